"""Reading results of a real MCP client session (the official SDK), for the MCP tests."""

from __future__ import annotations

from typing import Any

from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

# The tools memvault serves, over stdio and HTTP alike; none reverts or acknowledges an alert.
READ_ONLY_TOOLS = frozenset(
    {"recall", "get_memory", "list_sessions", "list_projects", "check_destruction"}
    | {"get_sync_status", "session_context"}
)
TOOLS = READ_ONLY_TOOLS | {"remember", "update_memory", "forget", "end_session", "sync_now"}


def text(result: CallToolResult) -> str:
    """The text of a tool result (where an error's message is)."""
    return " ".join(part.text for part in result.content if isinstance(part, TextContent))


async def call(session: ClientSession, name: str, **arguments: Any) -> dict[str, Any]:
    """A successful tool call's structured result."""
    result = await session.call_tool(name, arguments)
    assert not result.is_error, f"{name} failed: {text(result)}"
    structured: dict[str, Any] | None = result.structured_content
    assert structured is not None
    return structured
