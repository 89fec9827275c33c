"""The root `memvault` app: global options, command registration, and the one error handler."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from memvault.cli import (
    alerts,
    doctor,
    embeddings,
    hook_events,
    hooks,
    mcp,
    memories,
    neo4j,
    sessions,
    status,
    sync,
)
from memvault.cli.context import CliContext, cli_context
from memvault.errors import InvalidInputError, MemvaultError, NotFoundError

EXIT_NOT_FOUND = 1
EXIT_FAILED = 1
EXIT_INVALID = 2  # the same code click uses for usage errors

# How the CLI spells the fields whose names differ from the options or arguments that set them.
_OPTION_FOR_FIELD = {
    "content": "TEXT",
    "memory_type": "--type",
    "project_id": "--project",
    "session_id": "--session",
    "task_id": "--task",
    "query": "QUERY",
    "id": "ID",
    "mode": "--mode",
}


class ErrorReportingGroup(TyperGroup):
    """Turns memvault's errors into a message on stderr and an exit code, for every command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInputError as exc:
            for problem in exc.problems:
                field = problem["field"]
                option = _OPTION_FOR_FIELD.get(field)
                where = f"{field} ({option})" if option else field
                typer.echo(f"error: {where}: {problem['message']}", err=True)
            raise typer.Exit(EXIT_INVALID) from exc
        except NotFoundError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_NOT_FOUND) from exc
        except MemvaultError as exc:  # StoreError, UnavailableError, RejectedError
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from exc


app = typer.Typer(
    name="memvault",
    cls=ErrorReportingGroup,
    help="A memory for AI coding agents that they cannot destroy.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="Data folder of the local store (overrides MEMVAULT_HOME)."),
    ] = None,
) -> None:
    """A memory for AI coding agents that they cannot destroy."""
    state = CliContext(home=home)
    ctx.obj = state
    ctx.call_on_close(state.close)


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (MEMVAULT_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (MEMVAULT_PORT).")
    ] = None,
) -> None:
    """Serve the HTTP API."""
    # Imported here so that every other command starts without loading the web stack.
    from memvault.api.server import serve as serve_api

    overrides = {key: value for key, value in {"host": host, "port": port}.items() if value}
    serve_api(cli_context(ctx).settings(**overrides))


@app.command()
def guard(ctx: typer.Context) -> None:
    """Read an agent's pre-tool-use hook JSON on stdin; block shell commands aimed at the store."""
    # The console script answers `memvault guard` without building this app (see
    # memvault.cli.main); this command serves `--help` and `memvault --home PATH guard`.
    from memvault.safety.guard_main import run

    home = cli_context(ctx).home
    raise typer.Exit(run([], home=None if home is None else str(home)))


app.command("remember")(memories.remember)
app.command("recall")(memories.recall)
app.command("show")(memories.show)
app.command("forget")(memories.forget)
app.command("list")(memories.list_memories)
app.command("status")(status.status)
app.command("doctor")(doctor.doctor)
app.command("sync")(sync.sync)
app.command("recover")(sync.recover)
app.command("verify")(sync.verify)
app.command("conflicts")(sync.conflicts)
app.command("resolve")(sync.resolve)
app.command("reembed")(embeddings.reembed)
app.command("mcp")(mcp.mcp)
app.add_typer(sessions.app, name="session")
app.add_typer(sessions.projects_app, name="projects")
app.add_typer(alerts.app, name="alerts")
app.add_typer(neo4j.app, name="neo4j")
hooks.app.command("session-start")(hook_events.session_start)
hooks.app.command("session-end")(hook_events.session_end)
app.add_typer(hooks.app, name="hooks")


def main() -> None:
    """Console-script entry point."""
    app(prog_name="memvault")
