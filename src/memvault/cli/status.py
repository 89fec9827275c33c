"""status: what the local store holds, what waits to replicate, how far behind the replica is."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context


def status(
    ctx: typer.Context,
    local: Annotated[
        bool, typer.Option("--local", help="Only the local store; do not contact the replica.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Totals, counts by type and project, pending sync, replication lag, last sync."""
    context = cli_context(ctx)
    replicated = not local and context.settings().neo4j_password is not None
    service = context.service(with_sync=replicated)
    stats = service.stats()
    open_alerts = service.alerts.all(open_only=True)
    replication = context.run_with_replica(lambda s: s.sync_status()) if replicated else None
    if as_json:
        data: dict[str, Any] = {
            **stats.model_dump(mode="json"),
            "store_path": str(service.store.path),
            "alerts": [render.plain(alert) for alert in open_alerts],
        }
        if replication is not None:
            data["replication"] = render.plain(replication)
        render.emit_json(data)
    else:
        from memvault.cli import tables

        tables.print_stats(stats, service.store.path)
        for alert in open_alerts:
            typer.echo(
                f"ALERT {str(alert.id)[:8]} {alert.kind.value}: {render.brief(alert.evidence)}"
                f" (memvault alerts)",
                err=True,
            )
        if replication is not None:
            from memvault.cli import reports

            reports.print_report("replication", replication)
