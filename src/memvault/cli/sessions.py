"""`memvault session …` and `memvault projects`: where memories come from."""

from __future__ import annotations

from typing import Annotated

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context
from memvault.models import Session

app = typer.Typer(help="Start, end and look at working sessions.", no_args_is_help=True)
projects_app = typer.Typer(
    help="Projects with their memory and session counts.", invoke_without_command=True
)

SessionRef = Annotated[
    str | None,
    typer.Argument(metavar="ID", help="Session id, `current` or `previous`; default: current."),
]
Agent = Annotated[str | None, typer.Option("--agent", help="Agent name, e.g. claude-code.")]


def _print_session(as_json: bool, session: Session) -> None:
    if as_json:
        render.emit_json(render.plain(session))
    else:
        from memvault.cli import tables

        tables.print_sessions([session])


@app.command()
def start(
    ctx: typer.Context,
    session_id: Annotated[
        str | None, typer.Option("--id", help="Use this id (e.g. the agent's session id).")
    ] = None,
    project: options.Project = None,
    agent: Agent = None,
    as_json: options.Json = False,
) -> None:
    """Start a session (or resume one by id); writes without a session join it."""
    raw = {"session_id": session_id, "project_id": project, "agent": agent}
    session = (
        cli_context(ctx)
        .service()
        .start_session({key: value for key, value in raw.items() if value is not None})
    )
    if as_json:
        _print_session(as_json, session)
    else:
        typer.echo(session.id)


@app.command()
def end(
    ctx: typer.Context,
    session_id: SessionRef = None,
    project: options.Project = None,
    summary: Annotated[
        str | None, typer.Option("--summary", help="What the session did, in a few lines.")
    ] = None,
    as_json: options.Json = False,
) -> None:
    """End a session (the current one by default)."""
    session = (
        cli_context(ctx)
        .service()
        .end_session(session_id, {"summary": summary} if summary else None, project_id=project)
    )
    if as_json:
        _print_session(as_json, session)
    else:
        typer.echo(f"ended {session.id}")


@app.command()
def current(
    ctx: typer.Context, project: options.Project = None, as_json: options.Json = False
) -> None:
    """The open session of this project that writes join; exit 1 when there is none."""
    session = cli_context(ctx).service().current_session(project)
    if session is None:
        typer.echo("no current session", err=True)
        raise typer.Exit(1)
    _print_session(as_json, session)


@app.command("list")
def list_sessions(
    ctx: typer.Context,
    project: options.Project = None,
    agent: Agent = None,
    since: options.Since = None,
    until: options.Until = None,
    limit: options.Limit = 20,
    remote: options.Remote = False,
    as_json: options.Json = False,
) -> None:
    """Sessions, most recently started first (dates bound the start)."""
    raw = {
        "project_id": project,
        "agent": agent,
        "since": options.parse_when(since, "since"),
        "until": options.parse_when(until, "until"),
        "limit": limit,
    }
    flt = {key: value for key, value in raw.items() if value is not None}
    context = cli_context(ctx)
    found = context.answer(
        remote,
        lambda service: service.list_sessions(flt),
        lambda service: service.remote.sessions(flt),
    )
    if as_json:
        render.emit_json([render.plain(s) for s in found])
    else:
        from memvault.cli import tables

        tables.print_sessions(found)


@app.command()
def show(
    ctx: typer.Context,
    session_id: SessionRef = None,
    project: options.Project = None,
    remote: options.Remote = False,
    as_json: options.Json = False,
) -> None:
    """One session with its memories, oldest first."""
    ref = session_id or "current"
    context = cli_context(ctx)
    detail = context.answer(
        remote,
        lambda service: service.session_detail(ref, project),
        lambda service: service.remote.session_detail(ref, project),
    )
    if as_json:
        render.emit_json(render.plain(detail))
    else:
        from memvault.cli import tables

        tables.print_session(detail)


@app.command()
def context(
    ctx: typer.Context,
    project: options.Project = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=100, help="Memories per list.")] = 10,
    as_json: options.Json = False,
) -> None:
    """What a new session should know: the previous session's summary and key memories."""
    from memvault.context.briefing import as_text
    from memvault.jsonable import briefing_json

    briefing = cli_context(ctx).service().session_context(project, limit=limit)
    if as_json:
        render.emit_json(briefing_json(briefing))
    else:
        typer.echo(as_text(briefing))


@projects_app.callback()
def projects(
    ctx: typer.Context, remote: options.Remote = False, as_json: options.Json = False
) -> None:
    """Projects with their memory and session counts, most recently active first."""
    if ctx.invoked_subcommand is not None:
        return
    context = cli_context(ctx)
    found = context.answer(
        remote, lambda service: service.projects(), lambda service: service.remote.projects()
    )
    if as_json:
        render.emit_json([render.plain(p) for p in found])
    else:
        from memvault.cli import tables

        tables.print_projects(found)


@projects_app.command()
def describe(
    ctx: typer.Context,
    project_id: Annotated[str, typer.Argument(metavar="ID", help="The project's id.")],
    name: Annotated[str | None, typer.Option("--name", help="A human name.")] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What the project is.")
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Give a project a name and a description (created when new)."""
    project = (
        cli_context(ctx).service().describe_project(project_id, name=name, description=description)
    )
    if as_json:
        render.emit_json(render.plain(project))
    else:
        typer.echo(f"{project.id}: {project.name}")
