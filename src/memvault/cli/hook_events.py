"""`memvault hooks session-start|session-end`: what an agent runs when its session starts or
ends. Each reads the agent's hook JSON on stdin; see memvault.hooks."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from memvault.cli.context import cli_context


class AgentName(StrEnum):
    CLAUDE = "claude"
    CODEX = "codex"
    GEMINI = "gemini"


AgentOption = Annotated[
    AgentName, typer.Option("--agent", help="The agent whose hook this is.", case_sensitive=False)
]


def session_start(ctx: typer.Context, agent: AgentOption) -> None:
    """The session-start hook: recover, start the agent's session, print its briefing.

    Reads the agent's hook JSON on stdin. A missing or empty store is recovered from the
    replica first; the briefing (the previous session's summary and key memories) is printed
    as the agent's `hookSpecificOutput.additionalContext` JSON."""
    from memvault.hooks import read_input, session_start

    hook, warning = read_input(sys.stdin.read())
    output, notes = session_start(cli_context(ctx).logging_settings(), agent.value, hook)
    for line in [warning, *notes]:
        if line:
            typer.echo(line, err=True)
    typer.echo(output)


def session_end(ctx: typer.Context, agent: AgentOption) -> None:
    """The session-end hook: end the agent's session now; `memvault serve` replicates it.

    Reads the agent's hook JSON on stdin; prints `{}`."""
    from memvault.hooks import read_input, session_end

    hook, warning = read_input(sys.stdin.read())
    for line in [warning, *session_end(cli_context(ctx).logging_settings(), hook)]:
        if line:
            typer.echo(line, err=True)
    typer.echo("{}")  # Gemini CLI reads stdout as JSON; the others ignore it
