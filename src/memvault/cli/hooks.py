"""`memvault hooks install` / `uninstall`: set memvault up for an agent (MCP server and hooks)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memvault.cli import options, render
from memvault.integrations import agent_setup
from memvault.integrations.agent_setup import SetupReport

app = typer.Typer(
    help="Set memvault up for Claude Code, Codex CLI or Gemini CLI (install, uninstall), and "
    "the session hooks those agents run.",
    no_args_is_help=True,
)

Agent = Annotated[str, typer.Option("--agent", "-a", help="claude, codex or gemini.")]
Scope = Annotated[
    str,
    typer.Option(
        "--scope",
        help="user: the agent's settings in your home folder (the default); project: the "
        "project's own settings under --project-dir.",
    ),
]
ProjectDir = Annotated[
    Path | None,
    typer.Option(
        "--project-dir",
        help="Project folder for --scope project (default: the current folder).",
    ),
]


def _render(report: SetupReport, as_json: bool) -> None:
    if as_json:
        render.emit_json(report.as_dict())
        return
    name = agent_setup.AGENTS[report.agent]
    where = f"{name} ({report.scope} scope)"
    if not report.changed:
        installed = report.action == "install"
        listed = ", ".join(str(change.path) for change in report.files)
        typer.echo(
            f"memvault is already installed for {where}: {listed}"
            if installed
            else f"memvault is not installed for {where}: nothing to remove"
        )
    else:
        done = "installed for" if report.action == "install" else "removed from"
        typer.echo(f"memvault {done} {where}:")
        for change in report.files:
            if change.action != "unchanged":
                typer.echo(f"  {change.action:<8} {change.path}  ({', '.join(change.entries)})")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}", err=True)


@app.command()
def install(
    agent: Agent,
    scope: Scope = "user",
    project_dir: ProjectDir = None,
    remove: Annotated[
        bool, typer.Option("--uninstall", help="Remove memvault's entries instead.")
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Register memvault's MCP server and hooks with an agent, merged into its settings.

    Adds the MCP server (`memvault mcp`) and the session-start, session-end and guard hooks;
    nothing else in the files changes, and running it again changes nothing.
    """
    setup = agent_setup.uninstall if remove else agent_setup.install
    _render(setup(agent, scope, project_dir), as_json)


@app.command()
def uninstall(
    agent: Agent,
    scope: Scope = "user",
    project_dir: ProjectDir = None,
    as_json: options.Json = False,
) -> None:
    """Remove memvault's MCP server and hooks from an agent's settings, and nothing else."""
    _render(agent_setup.uninstall(agent, scope, project_dir), as_json)
