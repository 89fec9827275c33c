"""MemoryService: the one service layer every face (API, CLI, MCP, hooks) calls."""

from __future__ import annotations

import builtins
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError

from memvault.context.sessions import DEFAULT_IDLE_TIMEOUT, SessionManager
from memvault.errors import InvalidInputError, MemvaultError, NotFoundError, UnavailableError
from memvault.models import (
    Memory,
    MemoryCreate,
    MemoryFilter,
    MemoryUpdate,
    Operation,
    ProjectSummary,
    SearchHit,
    SearchMode,
    Session,
    SessionContext,
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
from memvault.safety.detector import Actor, DestructionDetector, DetectionPolicy
from memvault.store import LocalStore

if TYPE_CHECKING:  # the sync stack pulls in the Neo4j driver; local-only commands skip it
    from memvault.embeddings.base import Embedder
    from memvault.embeddings.reembed import ReembedReport
    from memvault.embeddings.worker import EmbeddingWorker
    from memvault.remote.protocol import ExportFilter
    from memvault.remote_recall import RemoteRecall
    from memvault.safety.actions import AlertActions
    from memvault.store.embeddings import EmbeddingCounts
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


FUSED_KEYWORD_HITS = 10


@dataclass(frozen=True)
class QueryVector:
    """A search query as a vector: which model made it and below what similarity a memory is
    not worth returning (None: no floor)."""

    vector: builtins.list[float] | None
    model: str | None = None
    min_similarity: float | None = None


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
        embedder: Embedder | None = None,
        detection: DetectionPolicy | None = None,
        tool: str | None = None,
    ) -> None:
        self.store = store
        self.sync = sync
        self.embedder = embedder
        self.embedding_worker: EmbeddingWorker | None = None  # run by `memvault serve`
        self.detector = DestructionDetector(store, clock, detection or DetectionPolicy())
        self.tool = tool
        self._clock = clock
        self.default_project = default_project
        self.sessions = SessionManager(
            store.sessions, clock=clock, idle_timeout=idle_timeout, session_file=session_file
        )

    def _changed(self) -> None:
        """A write committed: let the replicator send it now rather than at its next poll."""
        if self.sync is not None:
            self.sync.replicator.wake()
        if self.embedding_worker is not None:
            self.embedding_worker.wake()

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
        self.detector.after_update(self._actor())
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
        self.detector.after_delete(self._actor())
        self._changed()
        return forgotten

    def _actor(self) -> Actor:
        """Who is changing memories: the current session's agent, and the face used."""
        session_id = self.sessions.current_id()
        session = self.store.sessions.get(session_id) if session_id else None
        return Actor(
            agent=session.agent if session else None, session_id=session_id, tool=self.tool
        )

    @property
    def alerts(self) -> AlertActions:
        """Destruction alerts and the decisions about them (for people: the CLI)."""
        from memvault.safety.actions import AlertActions

        return AlertActions(self.store, self._clock)

    def list(self, flt: Mapping[str, Any] | MemoryFilter | None = None) -> builtins.list[Memory]:
        """Memories matching the filters, newest first."""
        return self.store.list(self.memory_filter(flt))

    def search(
        self,
        query: str,
        flt: Mapping[str, Any] | MemoryFilter | None = None,
        *,
        mode: SearchMode | str = SearchMode.HYBRID,
        vector: builtins.list[float] | None = None,
    ) -> builtins.list[SearchHit]:
        """Recall, best match first. Hybrid (the default) fuses keyword rank (FTS5/BM25) with
        vector similarity by reciprocal rank, or is keyword-only while no query vector can be
        had; `semantic` ranks by meaning only; `keyword` by words only. A query with no words
        is an input error."""
        require_words(query)
        mode = search_mode(mode)
        resolved = self.memory_filter(flt)
        pool = resolved.model_copy(update={"limit": _pool(resolved)})
        target = self.query_vector(query, mode, vector)
        # Fused with a vector list, only the strongest keyword matches take part: a word shared
        # by many memories otherwise fills the keyword list with weak matches that count as
        # much as the nearest vectors (labelled set: recall@5 0.69 -> 0.73, docs/benchmarks.md).
        keyword_pool = (
            pool.model_copy(update={"limit": FUSED_KEYWORD_HITS})
            if target.vector is not None
            else pool
        )
        keyword = [] if mode == SearchMode.SEMANTIC else self.store.search(query, keyword_pool)
        nearest = (
            self.store.nearest(target.vector, pool, target.model, target.min_similarity)
            if target.vector is not None
            else []
        )
        return fuse([hit.memory for hit in keyword], nearest, resolved.limit)

    def query_vector(
        self, query: str, mode: SearchMode, given: builtins.list[float] | None
    ) -> QueryVector:
        """The query's vector, the model that made it and its similarity floor (no vector:
        keyword only). A given vector is used as is, with no model and no floor."""
        if mode == SearchMode.KEYWORD or given is not None:
            return QueryVector(given)
        info = None
        try:
            info = self.embedder.info() if self.embedder is not None else None
            if self.embedder is None or info is None or info.dimension is None:
                if mode == SearchMode.SEMANTIC:
                    raise UnavailableError(
                        "semantic search needs embeddings: set MEMVAULT_EMBEDDINGS=local or ollama"
                    )
                return QueryVector(None)  # embeddings are off: hybrid is keyword recall
            return QueryVector(self.embedder.embed_query(query), info.model, info.min_similarity)
        except MemvaultError as exc:
            if mode == SearchMode.SEMANTIC:
                raise
            # stdlib logging: a warning on stderr, never in a command's --json stdout.
            logging.getLogger("memvault.search").warning("keyword recall only: %s", exc)
            return QueryVector(None)

    # -- embeddings -------------------------------------------------------------------------------

    def embedding_counts(self) -> EmbeddingCounts:
        """Live memories with and without a vector of the active model, and unsent vectors."""
        model = None
        if self.embedder is not None:
            try:
                info = self.embedder.info()
            except MemvaultError:  # the provider is down: count against no model
                info = None
            model = info.model if info is not None and info.dimension is not None else None
        return self.store.embeddings.counts(model)

    async def reembed(
        self, *, everything: bool = False, progress: Callable[[int, int], None] | None = None
    ) -> ReembedReport:
        """Embed every memory lacking a vector of the active model (all of them with
        `everything`), size the replica's vector index to the model, and send the vectors."""
        from memvault.embeddings.reembed import reembed

        if self.embedder is None:
            raise UnavailableError("embeddings are off: set MEMVAULT_EMBEDDINGS=local or ollama")
        return await reembed(
            self.store, self.embedder, self.sync, everything=everything, progress=progress
        )

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

    def session_context(self, project_id: str | None = None, *, limit: int = 10) -> SessionContext:
        """What a session starting in this project should know: the previous session (summary
        and key memories) and the project's most important recent memories."""
        from memvault.context.briefing import session_context

        if not 1 <= limit <= 100:
            raise InvalidInputError([{"field": "limit", "message": "must be between 1 and 100"}])
        project = project_id or self.default_project
        return session_context(self.store, self.sessions, project, limit)

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

    @property
    def remote(self) -> RemoteRecall:
        """The same questions (search, list, sessions, projects) answered by the replica."""
        from memvault.remote_recall import RemoteRecall

        return RemoteRecall(self)

    def engine(self) -> SyncEngine:
        """The sync engine; UnavailableError when no replica is configured."""
        if self.sync is None:
            raise UnavailableError("no replica is configured: set NEO4J_PASSWORD (and NEO4J_URI)")
        return self.sync

    async def sync_now(self) -> tuple[DrainReport, PullReport]:
        """Push every due local change, then pull what other machines wrote."""
        engine = self.engine()
        return await engine.push(), await engine.pull()

    def requeue(self, memory_ids: builtins.list[UUID]) -> int:
        """Send the current version of these memories again at the next drain."""
        queued = self.store.requeue(memory_ids)
        self._changed()
        return queued

    def trigger_sync(self) -> int:
        """Ask the running replicator to drain now; returns the outbox size."""
        self.engine().replicator.wake()
        return self.store.outbox_size()

    async def sync_status(self) -> SyncStatusReport:
        """Connectivity, queue, lag and the last sync result."""
        return await self.engine().status()

    async def recover(
        self, options: RecoveryOptions, progress: Callable[[int, int], None] | None = None
    ) -> RecoveryReport:
        """Rebuild the local store from the replica (additive, idempotent, verified)."""
        from memvault.sync.recovery import recover

        engine = self.engine()
        return await recover(
            self.store, engine.replica, options, clock=self._clock, progress=progress
        )

    async def verify(self, flt: ExportFilter | None = None) -> VerifyReport:
        """Compare the local store with the replica; changes nothing."""
        from memvault.sync.verify import verify

        return await verify(self.store, self.engine().replica, flt)

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


def require_words(query: str) -> None:
    """InvalidInputError unless the query has something to look for."""
    if not query.strip():
        raise InvalidInputError([{"field": "query", "message": "query must not be empty"}])


def _pool(flt: MemoryFilter) -> int:
    """Candidates each ranked list contributes before fusion: more than the page, so a memory
    ranked low by one list but high by the other can still make the page."""
    return min(1000, flt.limit * 2)


def search_mode(value: SearchMode | str) -> SearchMode:
    """A SearchMode from user input; InvalidInputError naming the choices otherwise."""
    try:
        return SearchMode(value)
    except ValueError:
        choices = ", ".join(m.value for m in SearchMode)
        raise InvalidInputError(
            [{"field": "mode", "message": f"{value!r} is not one of {choices}"}]
        ) from None
