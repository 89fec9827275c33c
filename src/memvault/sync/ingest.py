"""Signed ingest of one memory (POST /api/sync/memory): store locally first, then replicate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from memvault.models import (
    Memory,
    MemoryCreate,
    Operation,
    SyncStatus,
    UtcDatetime,
    content_hash,
)
from memvault.store import LocalStore
from memvault.sync.engine import SyncEngine


class IngestMemory(MemoryCreate):
    """A memory sent by another system (an n8n workflow, another memvault).

    Without `id` it is new. With an `id` and no `sync_version` it is the next version of that
    memory. With both, it is that exact version, and last-write-wins decides against ours.
    """

    id: UUID | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    sync_version: int | None = Field(default=None, ge=1)
    event_id: UUID | None = None


@dataclass(frozen=True)
class IngestResult:
    """What happened to an ingested memory, locally and on the replica."""

    memory: Memory
    outcome: Literal["created", "updated", "unchanged", "conflict"]
    replicated: bool
    replica_error: str | None = None
    conflict_winner: Literal["local", "incoming"] | None = None
    local_before: Memory | None = None


def ingest(store: LocalStore, payload: IngestMemory, now: datetime) -> IngestResult:
    """Write the incoming memory locally (row + outbox entry in one transaction)."""
    incoming_fields = payload.model_dump(exclude={"id", "created_at", "updated_at", "sync_version"})
    current = store.get(payload.id) if payload.id else None
    if current is None:
        memory = Memory(
            **{**incoming_fields, "event_id": payload.event_id or uuid4()},
            id=payload.id or uuid4(),
            created_at=payload.created_at or now,
            updated_at=payload.updated_at or now,
            sync_version=payload.sync_version or 1,
            sync_status=SyncStatus.PENDING,
            content_hash=content_hash(payload.content),
        )
        store.create(memory)
        return IngestResult(memory, "created", replicated=False)

    candidate = current.model_copy(
        update={
            **incoming_fields,
            "event_id": payload.event_id or uuid4(),
            "updated_at": payload.updated_at or now,
            "sync_version": payload.sync_version or current.sync_version + 1,
            "sync_status": SyncStatus.PENDING,
            "content_hash": content_hash(payload.content),
            "deleted_at": None,
        }
    )
    if candidate.version_key() == current.version_key():
        return IngestResult(current, "unchanged", replicated=current.sync_status == "synced")
    if payload.sync_version is not None and payload.sync_version <= current.sync_version:
        # The sender changed a version we changed too (or already moved past).
        winner: Literal["local", "incoming"] = (
            "incoming" if candidate.version_key() > current.version_key() else "local"
        )
        store.synclog.record_conflict(current, candidate, _side(winner), now)
        if winner == "incoming":
            store.replace_version(candidate, Operation.UPDATE)
        kept = store.get(current.id) or current
        return IngestResult(kept, "conflict", False, conflict_winner=winner, local_before=current)
    store.replace_version(candidate, Operation.UPDATE)
    return IngestResult(candidate, "updated", replicated=False)


async def ingest_and_replicate(
    store: LocalStore, engine: SyncEngine | None, payload: IngestMemory, now: datetime
) -> IngestResult:
    """Ingest locally, then push the outbox; the memory stays queued when the replica is down."""
    result = ingest(store, payload, now)
    if engine is None:
        return _with_state(store, result, "no replica is configured (NEO4J_PASSWORD is unset)")
    report = await engine.push()
    if report.error is not None:
        return _with_state(store, result, report.error)
    return _with_state(store, result, None)


def _with_state(store: LocalStore, result: IngestResult, error: str | None) -> IngestResult:
    memory = store.get(result.memory.id) or result.memory
    replicated = error is None and memory.sync_status in (SyncStatus.SYNCED, SyncStatus.CONFLICT)
    return IngestResult(
        memory,
        result.outcome,
        replicated,
        replica_error=error,
        conflict_winner=result.conflict_winner,
        local_before=result.local_before,
    )


def _side(winner: str) -> str:
    # SyncLog speaks of the stored row as "local" and the other copy as "remote".
    return "remote" if winner == "incoming" else "local"
