"""Conflicts between this store and the replica: how pull judges them, and the service functions
that list and resolve them.

Versions are ordered last-write-wins (`Memory.version_key()`); every store picks the same winner.
A conflict is two versions made concurrently on different stores (see `_concurrent`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel

from memvault.errors import NotFoundError
from memvault.models import Memory, SyncDirection, SyncResult, UtcDatetime
from memvault.service import parse_id
from memvault.store import LocalStore
from memvault.store.local import ReplicationState
from memvault.sync.audit import log_operation

Winner = Literal["local", "remote"]


class Verdict(StrEnum):
    """What pull does with a remote head."""

    INSERT = "insert"  # no local copy: take the remote version
    SAME = "same"  # the local version came back (usually our own change)
    UPDATE = "update"  # the remote version wins: take it
    KEEP = "keep"  # the local version wins: keep it (its outbox entry will win on the replica)


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    conflict: Winner | None = None  # record a conflict with this winner


def decide(
    remote: Memory, local: ReplicationState | None, remote_history: Sequence[Memory]
) -> Decision:
    """Judge a remote head against the local copy. `remote_history` (the replica's versions of
    the memory) is needed only when the remote version wins over an existing local one."""
    if local is None:
        return Decision(Verdict.INSERT)
    if remote.event_id == local.memory.event_id:
        return Decision(Verdict.SAME)
    if remote.version_key() > local.memory.version_key():
        concurrent = _concurrent(remote, local, remote_history)
        return Decision(Verdict.UPDATE, "remote" if concurrent else None)
    if str(remote.event_id) in local.known_event_ids:
        return Decision(Verdict.KEEP)  # a stale version: we hold it and something newer
    # A version made elsewhere that loses: our newer version has not reached the replica yet.
    return Decision(Verdict.KEEP, "local")


def _concurrent(remote: Memory, local: ReplicationState, history: Sequence[Memory]) -> bool:
    """Whether the winning remote version was made without knowing the local one: the local
    version has unsent changes, both carry the same sync_version (two edits of one parent), or
    the local version never reached the replica.

    Versions carry no parent link, so a remote head two or more versions ahead that descends from
    a sibling of ours (its maker edited again before pulling ours) reads as a plain update here.
    """
    mine = local.memory
    if local.pending or remote.sync_version == mine.sync_version:
        return True
    return str(mine.event_id) not in {str(version.event_id) for version in history}


# -- the record, and the service functions faces call ---------------------------------------------


class Conflict(BaseModel):
    """A recorded conflict: both versions (without embeddings) and the one that won."""

    id: int
    memory_id: UUID
    local: Memory
    remote: Memory
    winner: Winner
    detected_at: UtcDatetime
    resolved_at: UtcDatetime | None = None


def list_conflicts(
    store: LocalStore, *, memory_id: str | UUID | None = None, include_resolved: bool = False
) -> list[Conflict]:
    """Recorded conflicts, oldest first: open ones only unless `include_resolved`."""
    wanted = parse_id(memory_id) if memory_id is not None else None
    rows = store.synclog.conflicts(include_resolved=include_resolved)
    conflicts = [Conflict.model_validate(row) for row in rows]
    return [c for c in conflicts if wanted is None or c.memory_id == wanted]


def resolve_conflicts(
    store: LocalStore, memory_id: str | UUID, *, clock: Callable[[], datetime]
) -> int:
    """Close a memory's open conflicts (the winner stays); returns how many were closed.

    Raises InvalidInputError for a malformed id and NotFoundError for an unknown memory.
    """
    parsed = parse_id(memory_id)
    if store.get(parsed) is None:
        raise NotFoundError(f"memory {parsed} not found")
    return store.synclog.resolve_conflicts(str(parsed), clock())


def log_conflict(local: Memory, remote: Memory, winner: Winner, now: datetime) -> None:
    """The JSON log line of one conflict (a warning): a sync operation of its own (invariant
    7); its durable record is the row in the conflicts table."""
    log_operation(
        "conflict",
        SyncDirection.REMOTE_TO_LOCAL,
        SyncResult.SUCCESS,
        [local.id],
        now,
        warn=True,
        winner=winner,
        local=_version_summary(local),
        remote=_version_summary(remote),
    )


def _version_summary(memory: Memory) -> dict[str, Any]:
    return {
        "sync_version": memory.sync_version,
        "updated_at": memory.updated_at.isoformat(),
        "event_id": str(memory.event_id),
        "content_hash": memory.content_hash,
    }
