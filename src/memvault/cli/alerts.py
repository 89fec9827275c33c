"""`memvault alerts`: destruction alerts, and a person's decision about a quarantined burst."""

from __future__ import annotations

from typing import Annotated

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context

app = typer.Typer(
    help="Destruction alerts; revert or acknowledge a quarantined delete burst.",
    invoke_without_command=True,
)

AlertId = Annotated[str, typer.Argument(metavar="ID", help="The alert's id (8+ characters do).")]


@app.callback()
def alerts(
    ctx: typer.Context,
    all_states: Annotated[
        bool, typer.Option("--all", help="Also acknowledged, reverted and resolved alerts.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Alerts, newest first (open ones unless --all)."""
    if ctx.invoked_subcommand is not None:
        return
    found = cli_context(ctx).service().alerts.all(open_only=not all_states)
    if as_json:
        render.emit_json([render.plain(alert) for alert in found])
        return
    if not found:
        typer.echo("no open alerts" if not all_states else "no alerts")
        return
    for alert in found:
        who = " · ".join(x for x in (alert.agent, alert.session_id, alert.tool) if x) or "unknown"
        typer.echo(
            f"{str(alert.id)[:8]}  {alert.created_at:%Y-%m-%d %H:%M:%S}  {alert.kind.value:<14}"
            f"  {alert.state.value:<12}  by {who}  {render.brief(alert.evidence)}"
        )


@app.command()
def revert(ctx: typer.Context, alert_id: AlertId, as_json: options.Json = False) -> None:
    """Restore the memories a delete burst removed here; its deletes never replicate."""
    decision = cli_context(ctx).service().alerts.revert(alert_id)
    if as_json:
        render.emit_json(decision.as_dict())
    else:
        typer.echo(
            f"restored {len(decision.memories)} memories; alert {decision.alert_id} reverted"
        )


@app.command()
def ack(
    ctx: typer.Context,
    alert_id: AlertId,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The alert id's first 8 characters (else asked for)."),
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Let a burst's held deletes replicate, after typing the alert id to confirm."""
    actions = cli_context(ctx).service().alerts
    alert = actions.get(alert_id)
    held = actions.held(alert_id)
    expected = str(alert.id)[:8]
    if confirm is None:
        typer.echo(
            f"{len(held)} deletes will replicate: the replica marks those memories forgotten "
            "(their history stays).",
            err=True,
        )
        confirm = typer.prompt(f"type {expected} to confirm", err=True)
    if confirm.strip().lower() != expected:
        typer.echo("error: confirmation does not match; nothing was changed", err=True)
        raise typer.Exit(2)
    decision = actions.acknowledge(alert_id)
    if as_json:
        render.emit_json(decision.as_dict())
    else:
        typer.echo(
            f"{len(decision.memories)} deletes released; alert {decision.alert_id} acknowledged"
        )
