"""MemoryService: the one service layer every face (API, CLI, MCP, hooks) calls."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError

from memvault.context.sessions import DEFAULT_IDLE_TIMEOUT, SessionManager
from memvault.errors import InvalidInputError, NotFoundError, UnavailableError
from memvault.models import (
    Memory,
    MemoryCreate,
    MemoryFilter,
    MemoryUpdate,
    Operation,
    ProjectSummary,
    SearchHit,
    Session,
    SessionDetail,
    SessionEnd,
    SessionFilter,
    SessionStart,
    Stats,
    SyncStatus,
    content_hash,
    describe_errors,
    utc_now,
)
from memvault.ranking import fuse
from memvault.store import LocalStore

if TYPE_CHECKING:  # the sync stack pulls in the Neo4j driver; local-only commands skip it
    from memvault.remote.protocol import ExportFilter, ReplicaQueries
    from memvault.sync.conflicts import Conflict
    from memvault.sync.engine import SyncEngine, SyncStatusReport
    from memvault.sync.ingest import IngestResult
    from memvault.sync.pull import PullReport
    from memvault.sync.recovery import RecoveryOptions, RecoveryReport
    from memvault.sync.replicator import DrainReport
    from memvault.sync.verify import VerifyReport

Clock = Callable[[], datetime]
ModelT = TypeVar("ModelT", bound=BaseModel)


def parse(model: type[ModelT], data: Mapping[str, Any] | ModelT) -> ModelT:
    """Validate raw input into `model`, raising InvalidInputError with field-level messages."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInputError(describe_errors(exc)) from exc


def parse_id(value: str | UUID) -> UUID:
    """A memory id from user input; a clear InvalidInputError when it is not a UUID."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInputError(
            [{"field": "id", "message": f"{value!r} is not a valid UUID"}]
        ) from None


class MemoryService:
    """Remember, read, change, forget and find memories. Writes are local-first (invariant 1)."""

    def __init__(
        self,
        store: LocalStore,
        *,
        clock: Clock = utc_now,
        default_project: str | None = None,
        sync: SyncEngine | None = None,
        session_file: Path | None = None,
        idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.store = store
        self.sync = sync
        self._clock = clock
        self.default_project = default_project
        self.sessions = SessionManager(
            store.sessions, clock=clock, idle_timeout=idle_timeout, session_file=session_file
        )

    def _changed(self) -> None:
        """A write committed: let the replicator send it now rather than at its next poll."""
        if self.sync is not None:
            self.sync.replicator.wake()

    def remember(self, data: Mapping[str, Any] | MemoryCreate) -> Memory:
        """Store a new memory and queue it for replication; returns it with its id."""
        request = parse(MemoryCreate, data)
        project_id = request.project_id or self.default_project
        session_id, source = request.session_id, request.source
        if session_id is None:  # every memory belongs to a session: the current one, or a new one
            session = self.sessions.current_or_start(project_id, agent=source)
            session_id, source = session.id, source or session.agent
        now = self._clock()
        memory = Memory(
            id=uuid4(),
            **request.model_dump(exclude={"project_id", "session_id", "source"}),
            project_id=project_id,
            session_id=session_id,
            source=source,
            created_at=now,
            updated_at=now,
            sync_version=1,
            event_id=uuid4(),
            sync_status=SyncStatus.PENDING,
            content_hash=content_hash(request.content),
        )
        self.store.create(memory)
        self._changed()
        return memory

    def get(self, memory_id: str | UUID, *, include_deleted: bool = False) -> Memory:
        """The memory with this id; NotFoundError when unknown (or forgotten, unless asked)."""
        memory = self.store.get(parse_id(memory_id))
        if memory is None or (memory.is_deleted and not include_deleted):
            raise NotFoundError(f"memory {memory_id} not found")
        return memory

    def update(self, memory_id: str | UUID, data: Mapping[str, Any] | MemoryUpdate) -> Memory:
        """Change some fields of a live memory; bumps `sync_version` and queues the change."""
        changes = parse(MemoryUpdate, data).changes()
        now = self._clock()

        def apply(current: Memory) -> Memory:
            merged = {**current.model_dump(), **changes}
            merged.update(
                updated_at=now,
                sync_version=current.sync_version + 1,
                event_id=uuid4(),
                sync_status=SyncStatus.PENDING,
                content_hash=content_hash(merged["content"]),
            )
            if "content" in changes and changes["content"] != current.content:
                # The old vector describes the old text; a provider fills in a new one later.
                merged.update(embedding=None, embedding_model=None, embedding_dim=None)
            return Memory.model_validate(merged)

        updated = self.store.mutate(parse_id(memory_id), apply, Operation.UPDATE)
        self._changed()
        return updated

    def forget(self, memory_id: str | UUID) -> Memory:
        """Tombstone a memory locally; the replica keeps every version (invariant 3)."""
        now = self._clock()

        def tombstone(current: Memory) -> Memory:
            return current.model_copy(
                update={
                    "deleted_at": now,
                    "updated_at": now,
                    "sync_version": current.sync_version + 1,
                    "event_id": uuid4(),
                    "sync_status": SyncStatus.PENDING,
                }
            )

        forgotten = self.store.mutate(parse_id(memory_id), tombstone, Operation.DELETE)
        self._changed()
        return forgotten

    def list(self, flt: Mapping[str, Any] | MemoryFilter | None = None) -> builtins.list[Memory]:
        """Memories matching the filters, newest first."""
        return self.store.list(self.memory_filter(flt))

    def search(
        self,
        query: str,
        flt: Mapping[str, Any] | MemoryFilter | None = None,
        *,
        vector: builtins.list[float] | None = None,
    ) -> builtins.list[SearchHit]:
        """Recall, best match first: keyword (FTS5/BM25) fused by reciprocal rank with vector
        similarity when a query vector is given. A query with no words is an input error."""
        _require_words(query)
        resolved = self.memory_filter(flt)
        keyword = self.store.search(query, resolved.model_copy(update={"limit": _pool(resolved)}))
        nearest = (
            self.store.nearest(vector, resolved.model_copy(update={"limit": _pool(resolved)}))
            if vector is not None
            else []
        )
        return fuse([hit.memory for hit in keyword], nearest, resolved.limit)

    def memory_filter(
        self, flt: Mapping[str, Any] | MemoryFilter | None, *, local: bool = True
    ) -> MemoryFilter:
        """Validate a filter and fill in context: the default project (a plain query is about
        this project and global memories) and `current`/`previous` session references."""
        parsed = parse(MemoryFilter, flt or {})
        changes: dict[str, Any] = {}
        if parsed.project_id is None and not parsed.all_projects:
            changes["project_id"] = self.default_project
        # `previous`/`current` are the asker's, also when the query spans all projects.
        asker = parsed.project_id or self.default_project
        if parsed.session_id is not None and local:
            changes["session_id"] = self.sessions.resolve(parsed.session_id, asker)
        return parsed.model_copy(update=changes) if changes else parsed

    # -- sessions and projects --------------------------------------------------------------------

    def start_session(self, data: Mapping[str, Any] | SessionStart | None = None) -> Session:
        """Start a session (or resume the agent's one) in a project; it becomes the current one."""
        request = parse(SessionStart, data or {})
        return self.sessions.start(
            session_id=request.session_id,
            project_id=request.project_id or self.default_project,
            agent=request.agent,
        )

    def end_session(
        self,
        session_id: str | None = None,
        data: Mapping[str, Any] | SessionEnd | None = None,
        *,
        project_id: str | None = None,
    ) -> Session:
        """End a session (an id, `previous`; the current one by default), with an optional
        summary."""
        summary = parse(SessionEnd, data or {}).summary
        if session_id is not None:
            session_id = self.sessions.resolve(session_id, project_id or self.default_project)
        return self.sessions.end(session_id, summary=summary)

    def current_session(self, project_id: str | None = None) -> Session | None:
        """The open session that writes to this project (default: the default one) join."""
        return self.sessions.current(project_id or self.default_project)

    def expire_idle_sessions(self) -> builtins.list[Session]:
        """End sessions idle past the timeout; returns those ended."""
        return self.sessions.expire_idle()

    def list_sessions(
        self, flt: Mapping[str, Any] | SessionFilter | None = None
    ) -> builtins.list[Session]:
        """Sessions, most recently started first (filters: project, agent, since, until)."""
        self.sessions.expire_idle()
        return self.store.sessions.find(parse(SessionFilter, flt or {}))

    def session_detail(self, session_id: str, project_id: str | None = None) -> SessionDetail:
        """A session (an id, or `current` / `previous` of the project) with its live memories,
        oldest first."""
        resolved = self.sessions.resolve(session_id, project_id or self.default_project)
        session = self.store.sessions.get(resolved)
        if session is None:
            raise NotFoundError(f"session {session_id} not found")
        return SessionDetail(session=session, memories=self.store.sessions.memories(resolved))

    def projects(self) -> builtins.list[ProjectSummary]:
        """Every project with its memory and session counts, most recently active first."""
        return self.store.sessions.projects()

    def describe_project(
        self, project_id: str, *, name: str | None = None, description: str | None = None
    ) -> ProjectSummary:
        """Set a project's name and description (created when new)."""
        self.store.sessions.describe_project(
            project_id, name=name, description=description, now=self._clock()
        )
        self._changed()
        return next(p for p in self.projects() if p.id == project_id)

    def stats(self) -> Stats:
        """Counts over the local store, including changes waiting to replicate."""
        return self.store.stats()

    # -- the replica ------------------------------------------------------------------------------

    def _remote(self) -> ReplicaQueries:
        from memvault.remote.neo4j import Neo4jReplica
        from memvault.remote.queries import Neo4jQueries

        replica = self._engine().replica
        if not isinstance(replica, Neo4jReplica):
            raise UnavailableError("the configured replica cannot answer queries")
        return Neo4jQueries(replica)

    async def search_remote(
        self,
        query: str,
        flt: Mapping[str, Any] | MemoryFilter | None = None,
        *,
        vector: builtins.list[float] | None = None,
    ) -> builtins.list[SearchHit]:
        """The same recall, answered by the replica (when the local store is gone, or asked)."""
        _require_words(query)
        return await self._remote().search_memories(query, vector, await self._remote_filter(flt))

    async def list_remote(
        self, flt: Mapping[str, Any] | MemoryFilter | None = None
    ) -> builtins.list[Memory]:
        """Memories matching the filters on the replica, newest first."""
        return await self._remote().list_memories(await self._remote_filter(flt))

    async def list_sessions_remote(
        self, flt: Mapping[str, Any] | SessionFilter | None = None
    ) -> builtins.list[Session]:
        """Sessions on the replica, most recently started first."""
        return await self._remote().list_sessions(parse(SessionFilter, flt or {}))

    async def session_detail_remote(
        self, session_id: str, project_id: str | None = None
    ) -> SessionDetail:
        """A session and its memories, from the replica."""
        resolved = await self._resolve_remote_session(
            session_id, project_id or self.default_project
        )
        detail = await self._remote().get_session(resolved)
        if detail is None:
            raise NotFoundError(f"session {session_id} not found on the replica")
        return detail

    async def projects_remote(self) -> builtins.list[ProjectSummary]:
        """Every project on the replica with its counts."""
        return await self._remote().list_projects()

    async def _remote_filter(self, flt: Mapping[str, Any] | MemoryFilter | None) -> MemoryFilter:
        resolved = self.memory_filter(flt, local=False)
        if resolved.session_id is None:
            return resolved
        asker = resolved.project_id or self.default_project
        session_id = await self._resolve_remote_session(resolved.session_id, asker)
        return resolved.model_copy(update={"session_id": session_id})

    async def _resolve_remote_session(self, ref: str, project_id: str | None) -> str:
        """`current` is the session file's; `previous` the replica's latest other session of
        the project (the local chain may be gone with the local store)."""
        from memvault.context.sessions import CURRENT, PREVIOUS

        current = self.sessions.current_id()
        if ref == CURRENT:
            if current is None:
                raise NotFoundError("no current session")
            return current
        if ref != PREVIOUS:
            return ref
        recent = await self._remote().list_sessions(SessionFilter(project_id=project_id, limit=2))
        for session in recent:
            if session.id != current:
                return session.id
        raise NotFoundError(f"no previous session in project {project_id or '(none)'}")

    def _engine(self) -> SyncEngine:
        if self.sync is None:
            raise UnavailableError("no replica is configured: set NEO4J_PASSWORD (and NEO4J_URI)")
        return self.sync

    async def sync_now(self) -> tuple[DrainReport, PullReport]:
        """Push every due local change, then pull what other machines wrote."""
        engine = self._engine()
        return await engine.push(), await engine.pull()

    def requeue(self, memory_ids: builtins.list[UUID]) -> int:
        """Send the current version of these memories again at the next drain."""
        queued = self.store.requeue(memory_ids)
        self._changed()
        return queued

    def trigger_sync(self) -> int:
        """Ask the running replicator to drain now; returns the outbox size."""
        self._engine().replicator.wake()
        return self.store.outbox_size()

    async def sync_status(self) -> SyncStatusReport:
        """Connectivity, queue, lag and the last sync result."""
        return await self._engine().status()

    async def recover(
        self, options: RecoveryOptions, progress: Callable[[int, int], None] | None = None
    ) -> RecoveryReport:
        """Rebuild the local store from the replica (additive, idempotent, verified)."""
        from memvault.sync.recovery import recover

        engine = self._engine()
        return await recover(
            self.store, engine.replica, options, clock=self._clock, progress=progress
        )

    async def verify(self, flt: ExportFilter | None = None) -> VerifyReport:
        """Compare the local store with the replica; changes nothing."""
        from memvault.sync.verify import verify

        return await verify(self.store, self._engine().replica, flt)

    async def ingest(self, data: Mapping[str, Any]) -> IngestResult:
        """Store a memory sent by another system, then replicate it (signed ingest)."""
        from memvault.sync.ingest import IngestMemory, ingest_and_replicate

        payload = parse(IngestMemory, data)
        return await ingest_and_replicate(self.store, self.sync, payload, self._clock())

    def conflicts(self, *, include_resolved: bool = False) -> builtins.list[Conflict]:
        """Recorded last-write-wins conflicts, oldest first (open ones unless asked)."""
        from memvault.sync.conflicts import list_conflicts

        return list_conflicts(self.store, include_resolved=include_resolved)

    def resolve_conflict(self, memory_id: str | UUID) -> int:
        """Accept the kept version of a memory: close its open conflicts; returns how many."""
        from memvault.sync.conflicts import resolve_conflicts

        return resolve_conflicts(self.store, memory_id, clock=self._clock)


def _require_words(query: str) -> None:
    if not query.strip():
        raise InvalidInputError([{"field": "query", "message": "query must not be empty"}])


def _pool(flt: MemoryFilter) -> int:
    """Candidates each ranked list contributes before fusion: more than the page, so a memory
    ranked low by one list but high by the other can still make the page."""
    return min(1000, flt.limit * 2)
