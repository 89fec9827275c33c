"""MCP over streamable HTTP: a real MCP client session against `memvault serve` at /mcp, with
writes replicated to the real Neo4j like any other write."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult

from mcp_client import READ_ONLY_TOOLS, TOOLS, call, text

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import Neo4jServer, query

T = TypeVar("T")


def over_http(server: MemvaultServer, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Run `work` in an initialized MCP client session with the server's /mcp endpoint."""

    async def main() -> T:
        async with (
            streamable_http_client(f"{server.url}/mcp") as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_every_tool_over_http_with_replication(memvault_server: MemvaultServer) -> None:
    server = memvault_server
    settings = server.neo4j.settings(server.home)

    async def work(session: ClientSession) -> dict[str, Any]:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        made = await call(
            session,
            "remember",
            content="Rate limits live in the gateway, not in each service",
            memory_type="strategic",
            importance=0.8,
            project_id="shop",
        )
        found = await call(session, "recall", query="rate limits gateway", project_id="shop")
        got = await call(session, "get_memory", id=made["id"])
        updated = await call(session, "update_memory", id=made["id"], tags=["gateway"])
        ended = await call(session, "end_session", summary="moved rate limits to the gateway")
        briefing = await call(session, "session_context", project_id="shop")
        sessions = await call(session, "list_sessions", project_id="shop")
        projects = await call(session, "list_projects")
        synced = await call(session, "sync_now")
        status = await call(session, "get_sync_status")
        alerts = await call(session, "check_destruction")
        errors: dict[str, CallToolResult] = {
            "unknown": await session.call_tool(
                "get_memory", {"id": "00000000-0000-4000-8000-000000000000"}
            ),
            "importance": await session.call_tool("remember", {"content": "x", "importance": 5}),
            "type": await session.call_tool("recall", {"query": "x", "limit": "many"}),
        }
        return locals()

    r = over_http(server, work)

    assert set(r["tools"]) == TOOLS
    for name, tool in r["tools"].items():
        assert tool.description, name
        assert tool.annotations is not None, name
        assert tool.annotations.read_only_hint is (name in READ_ONLY_TOOLS), name
    made = r["made"]
    assert [hit["memory"]["id"] for hit in r["found"]["hits"]] == [made["id"]]
    assert r["got"]["content"] == made["content"]
    assert r["updated"]["tags"] == ["gateway"]
    assert r["ended"]["summary"] == "moved rate limits to the gateway"
    assert r["briefing"]["previous"]["id"] == made["session_id"]
    assert [m["id"] for m in r["briefing"]["previous_memories"]] == [made["id"]]
    assert [s["id"] for s in r["sessions"]["sessions"]] == [made["session_id"]]
    assert [p["id"] for p in r["projects"]["projects"]] == ["shop"]
    assert r["synced"]["push"]["error"] is None
    assert r["synced"]["push"]["rejected"] == 0
    assert r["status"]["neo4j_connected"] is True
    assert r["alerts"] == {"alerts": []}
    assert "not found" in text(r["errors"]["unknown"])
    assert "importance" in text(r["errors"]["importance"])
    assert "limit" in text(r["errors"]["type"])
    assert all(result.is_error for result in r["errors"].values())

    def replicated() -> bool:
        rows = query(
            settings,
            "MATCH (m:Memory {id: $id}) RETURN m.sync_version AS version, m.tags AS tags",
            id=made["id"],
        )
        return bool(rows) and rows[0]["version"] == 2 and rows[0]["tags"] == ["gateway"]

    wait_for(replicated, what="the MCP write and update on the replica", timeout=20)


def test_mcp_over_http_needs_the_api_token_when_one_is_set(
    empty_replica: Neo4jServer, tmp_path: Any
) -> None:
    server = MemvaultServer(
        home=tmp_path / "home",
        neo4j=empty_replica,
        extra_env={"MEMVAULT_API_TOKEN": "mcp-test-token"},
    )
    server.start()
    try:
        initialize = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "test", "version": "1"},
            },
        }
        headers = {"Accept": "application/json, text/event-stream"}
        refused = httpx.post(f"{server.url}/mcp", json=initialize, headers=headers)
        accepted = httpx.post(
            f"{server.url}/mcp",
            json=initialize,
            headers={**headers, "Authorization": "Bearer mcp-test-token"},
        )
    finally:
        server.stop()

    assert refused.status_code == 401
    assert "MEMVAULT_API_TOKEN" in refused.text
    assert accepted.status_code == 200
    assert "memvault" in accepted.text  # the server's name in the initialize result
