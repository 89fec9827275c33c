"""sync, recover, verify: the replica from the command line."""

from __future__ import annotations

from typing import Annotated

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context


def sync(ctx: typer.Context, as_json: options.Json = False) -> None:
    """Push every waiting local change to the replica, then pull what others wrote."""
    pushed, pulled = cli_context(ctx).run_with_replica(lambda service: service.sync_now())
    if as_json:
        render.emit_json({"push": render.plain(pushed), "pull": render.plain(pulled)})
    else:
        typer.echo(
            f"pushed {pushed.sent} change(s) in {pushed.batches} batch(es), "
            f"{pushed.applied} new on the replica; pulled {pulled.pulled}, "
            f"{pulled.conflicts} conflict(s)"
        )
    if pushed.error is not None:
        typer.echo(
            f"error: the replica is unavailable, changes stay queued: {pushed.error}", err=True
        )
        raise typer.Exit(1)


def recover(
    ctx: typer.Context,
    project: options.Project = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only memories changed at or after (ISO 8601).")
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Restore the state at this moment (ISO 8601), from history."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be recovered; write nothing.")
    ] = False,
    include_deleted: options.IncludeDeleted = False,
    as_json: options.Json = False,
) -> None:
    """Rebuild the local store from the replica, then verify it against the replica."""
    from memvault.sync.recovery import RecoveryOptions

    recovery = RecoveryOptions(
        project_id=project,
        since=options.parse_when(since, "since"),
        as_of=options.parse_when(as_of, "as_of"),
        dry_run=dry_run,
        include_deleted=include_deleted,
    )
    if as_json:
        report = cli_context(ctx).run_with_replica(lambda service: service.recover(recovery))
        render.emit_json(render.plain(report))
    else:
        from memvault.cli import reports

        with reports.progress("recovering") as advance:
            report = cli_context(ctx).run_with_replica(
                lambda service: service.recover(recovery, progress=advance)
            )
        reports.print_report("recovery", report)
    if not dry_run and not report.verified:
        raise typer.Exit(1)


def verify(
    ctx: typer.Context, project: options.Project = None, as_json: options.Json = False
) -> None:
    """Compare the local store with the replica and report drift; changes nothing."""
    from memvault.remote.protocol import ExportFilter

    flt = ExportFilter(project_id=project, include_deleted=True)
    report = cli_context(ctx).run_with_replica(lambda service: service.verify(flt))
    if as_json:
        render.emit_json(render.plain(report))
    else:
        from memvault.cli import reports

        reports.print_report("verify: local store against the replica", report)
    if not report.in_sync:
        raise typer.Exit(1)


def conflicts(
    ctx: typer.Context,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Include conflicts already resolved.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Last-write-wins conflicts: both versions and which one was kept."""
    found = cli_context(ctx).service().conflicts(include_resolved=include_resolved)
    if as_json:
        render.emit_json([render.plain(conflict) for conflict in found])
        return
    if not found:
        typer.echo("no open conflicts")
    for conflict in found:
        kept = conflict.local if conflict.winner == "local" else conflict.remote
        lost = conflict.remote if conflict.winner == "local" else conflict.local
        typer.echo(
            f"{conflict.memory_id}  detected {conflict.detected_at:%Y-%m-%d %H:%M}  "
            f"kept the {conflict.winner} version (v{kept.sync_version}); "
            f"the other (v{lost.sync_version}) stays in the replica's history\n"
            f"  kept: {kept.content[:100]!r}\n  lost: {lost.content[:100]!r}"
        )


def resolve(
    ctx: typer.Context,
    memory_id: Annotated[str, typer.Argument(metavar="ID", help="The memory's id (a UUID).")],
) -> None:
    """Accept the version last-write-wins kept: close the memory's open conflicts."""
    closed = cli_context(ctx).service().resolve_conflict(memory_id)
    typer.echo(f"resolved {closed} conflict(s) of {memory_id}")
