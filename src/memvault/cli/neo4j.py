"""`memvault neo4j …`: run the bundled local Neo4j and prepare the replica's schema."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context

app = typer.Typer(help="Run and prepare the local Neo4j replica.", no_args_is_help=True)


def _launch(ctx: typer.Context, command: str) -> None:
    from memvault.remote.launcher import run_launcher

    code = run_launcher(cli_context(ctx).settings(), command)
    if code != 0:
        raise typer.Exit(code)


@app.command()
def start(ctx: typer.Context) -> None:
    """Start the bundled Neo4j (building it on first use) and wait until it is ready."""
    _launch(ctx, "start")


@app.command()
def stop(ctx: typer.Context) -> None:
    """Stop the bundled Neo4j cleanly."""
    _launch(ctx, "stop")


@app.command()
def status(ctx: typer.Context) -> None:
    """Say whether the bundled Neo4j runs and answers (exit 3 when it does not run)."""
    _launch(ctx, "status")


@app.command("init-schema")
def init_schema(
    ctx: typer.Context,
    dimensions: Annotated[
        int | None,
        typer.Option(
            "--dimensions",
            min=1,
            max=4096,
            help="Vector index size (default: MEMVAULT_VECTOR_DIMENSIONS, else the active "
            "embedding model's dimension).",
        ),
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Create the replica's constraints and indexes; safe to run again."""
    from memvault.embeddings.factory import index_dimensions
    from memvault.remote.schema import setup_schema

    settings = cli_context(ctx).settings()
    report = asyncio.run(setup_schema(settings, dimensions or index_dimensions(settings)))
    if as_json:
        render.emit_json(report.as_dict())
    else:
        typer.echo(report.describe())
