"""The MCP face: memvault's tools for agents, over stdio (`memvault mcp`) or streamable HTTP.

A thin face: each tool validates nothing itself and calls MemoryService, which parses the
arguments and raises memvault's errors; those become MCP tool errors (`is_error`) with the
message. No tool can purge remote history or acknowledge or revert a destruction alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from memvault.errors import MemvaultError
from memvault.jsonable import briefing_json, hit_json, memory_json, plain
from memvault.models import MemoryType, Scope, SearchMode
from memvault.service import MemoryService

INSTRUCTIONS = (
    "memvault is your long-term memory across sessions and projects. `recall` before you "
    "start on a task, `remember` decisions, facts and procedures worth keeping, and "
    "`end_session` with a summary when you are done. Forgetting is a tombstone: the replica "
    "keeps every version, and bulk deletes are held by the destruction detector."
)

Lifespan = Callable[[MCPServer], AbstractAsyncContextManager[None]]

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
ADDITIVE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
CHANGING = ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
REMOTE_READ = ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=True)
REMOTE_WRITE = ToolAnnotations(
    read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True
)


@contextmanager
def tool_errors() -> Iterator[None]:
    """memvault's errors (invalid input, not found, unavailable...) as MCP tool errors."""
    try:
        yield
    except MemvaultError as exc:
        raise ToolError(str(exc)) from exc


def _given(**fields: Any) -> dict[str, Any]:
    """The arguments the caller set (None means left out), for the service's parsers."""
    return {key: value for key, value in fields.items() if value is not None}


def build_mcp_server(service: MemoryService, *, lifespan: Lifespan | None = None) -> MCPServer:
    """An MCPServer whose tools call `service`; `lifespan` runs around a stdio connection
    (`memvault mcp` replicates while it serves)."""
    server: MCPServer = MCPServer(name="memvault", instructions=INSTRUCTIONS, lifespan=lifespan)

    @server.tool(annotations=ADDITIVE)
    async def remember(
        content: str,
        memory_type: MemoryType = MemoryType.SEMANTIC,
        tags: list[str] | None = None,
        importance: Annotated[float, Field(ge=0, le=1)] = 0.5,
        project_id: str | None = None,
        session_id: str | None = None,
        scope: Scope = Scope.PROJECT,
    ) -> dict[str, Any]:
        """Store a new memory. memory_type: episodic (what happened), semantic (a fact),
        procedural (how to), strategic (a decision). importance 0..1. scope: project (default)
        or global (surfaces in every project). Returns the memory with its id."""
        with tool_errors():
            memory = service.remember(
                _given(
                    content=content,
                    memory_type=memory_type,
                    tags=tags,
                    importance=importance,
                    project_id=project_id,
                    session_id=session_id,
                    scope=scope,
                )
            )
        return memory_json(memory)

    @server.tool(annotations=READ_ONLY)
    async def recall(
        query: str,
        project_id: str | None = None,
        session_id: str | None = None,
        all_projects: bool = False,
        since: str | None = None,
        until: str | None = None,
        memory_type: MemoryType | None = None,
        tags: list[str] | None = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
        mode: SearchMode = SearchMode.HYBRID,
    ) -> dict[str, Any]:
        """Find memories, best match first. Filters: project_id (default: this project, plus
        global memories), session_id (an id, `current` or `previous`), all_projects, since /
        until (ISO 8601), memory_type, tags (all must match). mode: hybrid, keyword or
        semantic."""
        flt = _given(
            project_id=project_id,
            session_id=session_id,
            all_projects=all_projects,
            since=since,
            until=until,
            memory_type=memory_type,
            tags=tags,
            limit=limit,
        )
        with tool_errors():
            hits = service.search(query, flt, mode=mode)
        return {"hits": [hit_json(rank, hit) for rank, hit in enumerate(hits, start=1)]}

    @server.tool(annotations=READ_ONLY)
    async def get_memory(id: str) -> dict[str, Any]:
        """One memory by its id (a UUID); an error when it is unknown or forgotten."""
        with tool_errors():
            return memory_json(service.get(id))

    @server.tool(annotations=CHANGING)
    async def update_memory(
        id: str,
        content: str | None = None,
        memory_type: MemoryType | None = None,
        tags: list[str] | None = None,
        importance: Annotated[float, Field(ge=0, le=1)] | None = None,
        scope: Scope | None = None,
    ) -> dict[str, Any]:
        """Change some fields of a memory; fields left out keep their value. The replica keeps
        the previous version."""
        changes = _given(
            content=content, memory_type=memory_type, tags=tags, importance=importance, scope=scope
        )
        with tool_errors():
            return memory_json(service.update(id, changes))

    @server.tool(annotations=CHANGING)
    async def forget(id: str) -> dict[str, Any]:
        """Forget a memory: a tombstone here; the replica keeps every version. Many forgets in
        a short time trip the destruction detector, which holds them for a person to review."""
        with tool_errors():
            return memory_json(service.forget(id))

    @server.tool(annotations=READ_ONLY)
    async def list_sessions(
        project_id: str | None = None,
        agent: str | None = None,
        since: str | None = None,
        until: str | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Sessions, most recently started first, with their summaries."""
        flt = _given(project_id=project_id, agent=agent, since=since, until=until, limit=limit)
        with tool_errors():
            sessions = service.list_sessions(flt)
        return {"sessions": [session.model_dump(mode="json") for session in sessions]}

    @server.tool(annotations=READ_ONLY)
    async def session_context(project_id: str | None = None, limit: int = 10) -> dict[str, Any]:
        """What to know before starting work here: the project's previous session (its summary
        and most important memories), the project's most important recent memories, and how
        many destruction alerts are open. project_id defaults to this project."""
        with tool_errors():
            briefing = service.session_context(project_id, limit=limit)
        return briefing_json(briefing)

    @server.tool(annotations=ADDITIVE)
    async def end_session(
        session_id: str | None = None, summary: str | None = None
    ) -> dict[str, Any]:
        """End a session (default: the current one; or an id, or `previous`) with a summary of
        what was done, for the next session to read."""
        with tool_errors():
            session = service.end_session(session_id, _given(summary=summary))
        return session.model_dump(mode="json")

    @server.tool(annotations=READ_ONLY)
    async def list_projects() -> dict[str, Any]:
        """Every project with its memory and session counts, most recently active first."""
        with tool_errors():
            projects = service.projects()
        return {"projects": [project.model_dump(mode="json") for project in projects]}

    @server.tool(annotations=REMOTE_READ)
    async def get_sync_status() -> dict[str, Any]:
        """Replication health: queue size, pending and failed changes, lag, last error.
        An error when no replica is configured."""
        with tool_errors():
            report = await service.sync_status()
        result: dict[str, Any] = plain(report)
        return result

    @server.tool(annotations=REMOTE_WRITE)
    async def sync_now() -> dict[str, Any]:
        """Push every waiting local change to the replica, then pull what others wrote."""
        with tool_errors():
            pushed, pulled = await service.sync_now()
        return {"push": plain(pushed), "pull": plain(pulled)}

    @server.tool(annotations=READ_ONLY)
    async def check_destruction() -> dict[str, Any]:
        """Open destruction alerts (delete bursts, mass updates, a vanished store...). Only a
        person can revert or acknowledge one, with `memvault alerts`."""
        with tool_errors():
            alerts = service.alerts.all(open_only=True)
        return {"alerts": [alert.model_dump(mode="json") for alert in alerts]}

    return server
