"""`memvault mcp`: the MCP server over stdio, for agents (`claude mcp add`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import typer

from memvault.cli.context import cli_context

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer

    from memvault.service import MemoryService


def mcp(ctx: typer.Context) -> None:
    """Serve memvault's MCP tools over stdio (for agents' MCP configuration)."""
    # Imported here so that every other command starts without loading the MCP SDK.
    from memvault.mcp_server import build_mcp_server

    context = cli_context(ctx)
    context.logging_settings()  # stdout is the MCP channel
    service = context.service(with_sync=True)
    service.tool = "mcp"  # destruction alerts name the face the deletes came through

    @asynccontextmanager
    async def replicating(_: MCPServer) -> AsyncIterator[None]:
        async with replicate_while_serving(service):
            yield

    build_mcp_server(service, lifespan=replicating).run()


@asynccontextmanager
async def replicate_while_serving(service: MemoryService) -> AsyncIterator[None]:
    """Push every write to the replica as it happens (within a second) while the MCP server
    runs, so an agent that only talks MCP is replicated without `memvault serve`. Pulling,
    the store watchdog and alert delivery stay with `memvault serve`: two processes must not
    both repair one store."""
    if service.sync is None:
        yield
        return
    stop = asyncio.Event()
    pusher = asyncio.create_task(service.sync.replicator.run_forever(stop))
    try:
        yield
    finally:
        stop.set()
        await pusher
        await service.sync.close()
