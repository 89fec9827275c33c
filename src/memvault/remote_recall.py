"""RemoteRecall: the service's questions answered by the replica — when the local store is
gone (a wiped machine can still ask what earlier sessions decided) or when asked (`--remote`).

Filters get the same context as local ones (default project, search mode, query vector); only
`current`/`previous` session references resolve against the replica's sessions, since the
local chain may be gone with the local store.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from memvault.context.sessions import CURRENT, PREVIOUS
from memvault.errors import NotFoundError, UnavailableError
from memvault.models import (
    Memory,
    MemoryFilter,
    ProjectSummary,
    SearchHit,
    SearchMode,
    Session,
    SessionDetail,
    SessionFilter,
)

if TYPE_CHECKING:
    from memvault.remote.protocol import ReplicaQueries
    from memvault.service import MemoryService


class RemoteRecall:
    """Search, list, sessions and projects from the replica, for one MemoryService."""

    def __init__(self, service: MemoryService) -> None:
        self._service = service

    def _queries(self) -> ReplicaQueries:
        from memvault.remote.neo4j import Neo4jReplica
        from memvault.remote.queries import Neo4jQueries

        replica = self._service.engine().replica
        if not isinstance(replica, Neo4jReplica):
            raise UnavailableError("the configured replica cannot answer queries")
        return Neo4jQueries(replica)

    async def search(
        self,
        query: str,
        flt: Mapping[str, Any] | MemoryFilter | None = None,
        *,
        mode: SearchMode | str = SearchMode.HYBRID,
        vector: list[float] | None = None,
    ) -> list[SearchHit]:
        """Recall from the replica: fulltext and vector indexes fused, as locally."""
        from memvault.service import require_words, search_mode

        require_words(query)
        mode = search_mode(mode)
        target = self._service.query_vector(query, mode, vector)
        text = "" if mode == SearchMode.SEMANTIC else query
        return await self._queries().search_memories(
            text, target.vector, await self._filter(flt), target.min_similarity
        )

    async def list(
        self, flt: Mapping[str, Any] | MemoryFilter | None = None
    ) -> builtins.list[Memory]:
        """Memories matching the filters on the replica, newest first."""
        return await self._queries().list_memories(await self._filter(flt))

    async def sessions(
        self, flt: Mapping[str, Any] | SessionFilter | None = None
    ) -> builtins.list[Session]:
        """Sessions on the replica, most recently started first."""
        from memvault.service import parse

        return await self._queries().list_sessions(parse(SessionFilter, flt or {}))

    async def session_detail(self, session_id: str, project_id: str | None = None) -> SessionDetail:
        """A session and its memories, from the replica."""
        project = project_id or self._service.default_project
        detail = await self._queries().get_session(await self._resolve(session_id, project))
        if detail is None:
            raise NotFoundError(f"session {session_id} not found on the replica")
        return detail

    async def projects(self) -> builtins.list[ProjectSummary]:
        """Every project on the replica with its counts."""
        return await self._queries().list_projects()

    async def _filter(self, flt: Mapping[str, Any] | MemoryFilter | None) -> MemoryFilter:
        resolved = self._service.memory_filter(flt, local=False)
        if resolved.session_id is None:
            return resolved
        project = resolved.project_id or self._service.default_project
        session_id = await self._resolve(resolved.session_id, project)
        return resolved.model_copy(update={"session_id": session_id})

    async def _resolve(self, ref: str, project_id: str | None) -> str:
        """`current` is the session file's; `previous` the replica's latest other session of
        the project."""
        current = self._service.sessions.current_id()
        if ref == CURRENT:
            if current is None:
                raise NotFoundError("no current session")
            return current
        if ref != PREVIOUS:
            return ref
        recent = await self._queries().list_sessions(SessionFilter(project_id=project_id, limit=2))
        for session in recent:
            if session.id != current:
                return session.id
        raise NotFoundError(f"no previous session in project {project_id or '(none)'}")
