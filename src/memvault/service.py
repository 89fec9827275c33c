"""MemoryService: the one service layer every face (API, CLI, MCP, hooks) calls."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError

from memvault.errors import InvalidInputError, NotFoundError, UnavailableError
from memvault.models import (
    Memory,
    MemoryCreate,
    MemoryFilter,
    MemoryUpdate,
    Operation,
    SearchHit,
    Stats,
    SyncStatus,
    content_hash,
    describe_errors,
    utc_now,
)
from memvault.store import LocalStore

if TYPE_CHECKING:  # the sync stack pulls in the Neo4j driver; local-only commands skip it
    from memvault.remote.protocol import ExportFilter
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
    ) -> None:
        self.store = store
        self.sync = sync
        self._clock = clock
        self._default_project = default_project

    def _changed(self) -> None:
        """A write committed: let the replicator send it now rather than at its next poll."""
        if self.sync is not None:
            self.sync.replicator.wake()

    def remember(self, data: Mapping[str, Any] | MemoryCreate) -> Memory:
        """Store a new memory and queue it for replication; returns it with its id."""
        request = parse(MemoryCreate, data)
        now = self._clock()
        memory = Memory(
            id=uuid4(),
            **request.model_dump(exclude={"project_id"}),
            project_id=request.project_id or self._default_project,
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
        return self.store.list(parse(MemoryFilter, flt or {}))

    def search(
        self, query: str, flt: Mapping[str, Any] | MemoryFilter | None = None
    ) -> builtins.list[SearchHit]:
        """Keyword recall, best match first; a query with no words is an input error."""
        if not query.strip():
            raise InvalidInputError([{"field": "query", "message": "query must not be empty"}])
        return self.store.search(query, parse(MemoryFilter, flt or {}))

    def stats(self) -> Stats:
        """Counts over the local store, including changes waiting to replicate."""
        return self.store.stats()

    # -- the replica ------------------------------------------------------------------------------

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
