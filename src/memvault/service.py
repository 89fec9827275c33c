"""MemoryService: the one service layer every face (API, CLI, MCP, hooks) calls."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ValidationError

from memvault.errors import InvalidInputError, NotFoundError
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
        self, store: LocalStore, *, clock: Clock = utc_now, default_project: str | None = None
    ) -> None:
        self.store = store
        self._clock = clock
        self._default_project = default_project

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

        return self.store.mutate(parse_id(memory_id), apply, Operation.UPDATE)

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

        return self.store.mutate(parse_id(memory_id), tombstone, Operation.DELETE)

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
