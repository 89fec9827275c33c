"""doctor: check the store and every dependency; exit 1 when a required one fails."""

from __future__ import annotations

from dataclasses import asdict

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context


def doctor(ctx: typer.Context, as_json: options.Json = False) -> None:
    """Check the local store, Neo4j, Ollama, n8n and Archon."""
    # Imported here: httpx (and the Neo4j driver, inside the check) are only needed by doctor.
    from memvault.health import all_required_ok, run_checks

    results = run_checks(cli_context(ctx).settings())
    ok = all_required_ok(results)
    if as_json:
        render.emit_json({"ok": ok, "checks": [asdict(r) for r in results]})
    else:
        from memvault.cli import tables

        tables.print_checks(results, ok)
    if not ok:
        raise typer.Exit(1)
