"""`memvault neo4j …`: run and prepare the local Neo4j replica."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run and prepare the local Neo4j replica.", no_args_is_help=True)
