"""status: what the local store holds and what waits to replicate."""

from __future__ import annotations

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context


def status(ctx: typer.Context, as_json: options.Json = False) -> None:
    """Totals, counts by type and project, pending sync, store path, last write."""
    service = cli_context(ctx).service()
    stats = service.stats()
    if as_json:
        render.emit_json({**stats.model_dump(mode="json"), "store_path": str(service.store.path)})
    else:
        from memvault.cli import tables

        tables.print_stats(stats, service.store.path)
