"""`memvault mcp`: the MCP server over stdio, for agents (`claude mcp add`)."""

from __future__ import annotations

import typer

from memvault.cli.context import cli_context


def mcp(ctx: typer.Context) -> None:
    """Serve memvault's MCP tools over stdio (for agents' MCP configuration)."""
    # Imported here so that every other command starts without loading the MCP SDK.
    from memvault.mcp_server import build_mcp_server

    service = cli_context(ctx).service(with_sync=True)
    service.tool = "mcp"  # destruction alerts name the face the deletes came through
    build_mcp_server(service).run()
