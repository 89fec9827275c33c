"""A real MCP client session over stdio against `memvault mcp` (no replica, embeddings off)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import CallToolResult

from mcp_client import READ_ONLY_TOOLS, TOOLS, call, text

MEMVAULT = Path(sys.executable).with_name("memvault")
_SCRUBBED = ("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_")
T = TypeVar("T")


def in_session(tmp_path: Path, work: Callable[[ClientSession], Awaitable[T]]) -> T:
    """Run `work` in an initialized client session with `memvault mcp` in a fresh home."""
    assert MEMVAULT.exists(), f"the console script is not installed at {MEMVAULT}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user settings file
    env.update(MEMVAULT_HOME=str(tmp_path / "home"), MEMVAULT_EMBEDDINGS="none")
    cwd = tmp_path / "work"
    cwd.mkdir(exist_ok=True)
    params = StdioServerParameters(command=str(MEMVAULT), args=["mcp"], env=env, cwd=cwd)

    async def main() -> T:
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_tools_are_listed_with_annotations_and_none_reverts_alerts(tmp_path: Path) -> None:
    async def work(session: ClientSession) -> dict[str, Any]:
        return {tool.name: tool for tool in (await session.list_tools()).tools}

    tools = in_session(tmp_path, work)

    assert set(tools) == TOOLS
    assert not any(word in name for name in tools for word in ("revert", "ack", "purge"))
    for name, tool in tools.items():
        assert tool.description, name
        assert tool.annotations is not None, name
        assert tool.annotations.read_only_hint is (name in READ_ONLY_TOOLS), name
    assert tools["forget"].annotations is not None
    assert tools["forget"].annotations.destructive_hint is True
    assert tools["remember"].annotations is not None
    assert tools["remember"].annotations.destructive_hint is False
    assert tools["remember"].input_schema["required"] == ["content"]


def test_remember_recall_update_forget(tmp_path: Path) -> None:
    async def work(session: ClientSession) -> dict[str, Any]:
        made = await call(
            session,
            "remember",
            content="Deploys go through the blue-green pipeline",
            memory_type="procedural",
            tags=["deploy"],
            project_id="shop",
        )
        found = await call(session, "recall", query="blue-green", project_id="shop")
        other = await call(session, "recall", query="blue-green", project_id="elsewhere")
        got = await call(session, "get_memory", id=made["id"])
        updated = await call(session, "update_memory", id=made["id"], importance=0.9)
        projects = await call(session, "list_projects")
        ended = await call(session, "end_session", summary="set up deploys")
        sessions = await call(session, "list_sessions", project_id="shop")
        briefing = await call(session, "session_context", project_id="shop", limit=5)
        bad_limit = await session.call_tool("session_context", {"limit": 0})
        forgotten = await call(session, "forget", id=made["id"])
        gone = await session.call_tool("get_memory", {"id": made["id"]})
        alerts = await call(session, "check_destruction")
        return locals()

    r = in_session(tmp_path, work)

    made = r["made"]
    assert made["memory_type"] == "procedural"
    assert made["project_id"] == "shop"
    assert [hit["memory"]["id"] for hit in r["found"]["hits"]] == [made["id"]]
    assert r["other"]["hits"] == []
    assert r["got"]["content"] == "Deploys go through the blue-green pipeline"
    assert r["updated"]["importance"] == 0.9
    assert r["updated"]["sync_version"] == made["sync_version"] + 1
    assert [p["id"] for p in r["projects"]["projects"]] == ["shop"]
    assert r["ended"]["summary"] == "set up deploys"
    assert r["ended"]["id"] == made["session_id"]
    assert [s["summary"] for s in r["sessions"]["sessions"]] == ["set up deploys"]
    assert r["briefing"]["previous"]["summary"] == "set up deploys"
    assert [m["id"] for m in r["briefing"]["previous_memories"]] == [made["id"]]
    assert r["briefing"]["previous_memories"][0]["importance"] == 0.9
    assert r["bad_limit"].is_error
    assert "limit" in text(r["bad_limit"])
    assert r["forgotten"]["deleted_at"] is not None
    assert r["gone"].is_error
    assert "not found" in text(r["gone"])
    assert r["alerts"] == {"alerts": []}


def test_bad_arguments_and_missing_replica_are_tool_errors(tmp_path: Path) -> None:
    async def work(session: ClientSession) -> dict[str, CallToolResult]:
        return {
            "bad_id": await session.call_tool("get_memory", {"id": "not-a-uuid"}),
            "bad_type": await session.call_tool(
                "remember", {"content": "x", "memory_type": "gossip"}
            ),
            "blank": await session.call_tool("recall", {"query": "   "}),
            "no_content": await session.call_tool("remember", {}),
            "status": await session.call_tool("get_sync_status", {}),
            "sync": await session.call_tool("sync_now", {}),
            "listed": await session.call_tool("recall", {"query": "x", "all_projects": True}),
        }

    r = in_session(tmp_path, work)

    for name in ("bad_id", "bad_type", "blank", "no_content", "status", "sync"):
        assert r[name].is_error, name
    assert "'not-a-uuid' is not a valid UUID" in text(r["bad_id"])
    assert "memory_type" in text(r["bad_type"])
    assert "procedural" in text(r["bad_type"])
    assert "query must not be empty" in text(r["blank"])
    assert "content" in text(r["no_content"])
    assert "NEO4J_PASSWORD" in text(r["status"])
    assert "NEO4J_PASSWORD" in text(r["sync"])
    # Nothing was written by the refused calls.
    assert not r["listed"].is_error
    assert r["listed"].structured_content == {"hits": []}
