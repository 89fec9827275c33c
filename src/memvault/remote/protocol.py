"""What the sync core needs from a replica: a handful of methods, transport only.

A replica never retries and keeps no state of ours; it raises UnavailableError (try again later)
or RejectedError (this request will never work). Policy — ordering, batching, backoff,
quarantine, conflict handling, verification — lives in `memvault.sync`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from memvault.models import Memory, Operation, Project, Session


@dataclass(frozen=True)
class Change:
    """One version of a memory on its way to the replica (an outbox entry)."""

    operation: Operation
    memory: Memory  # carries id, sync_version and event_id
    origin: str  # the store (machine) that made the change


@dataclass(frozen=True)
class ApplyOutcome:
    """What the replica did with the newest change of one memory in a batch."""

    memory_id: UUID
    event_id: UUID
    applied: bool  # False: the replica already held this or a later version
    remote_id: str
    head_version: int
    head_event_id: str


@dataclass(frozen=True)
class RemoteChange:
    """A memory's current version on the replica, with the replica's change sequence number."""

    seq: int
    memory: Memory
    origin: str | None


@dataclass(frozen=True)
class Fingerprint:
    """Enough of a version to compare copies: id, version, content hash, tombstone."""

    memory_id: str
    sync_version: int
    content_hash: str  # models.checked_hash: `damaged:…` when the text does not match its hash
    deleted: bool


@dataclass(frozen=True)
class ExportFilter:
    """Which memories an export returns."""

    project_id: str | None = None
    since: datetime | None = None  # updated at or after
    include_deleted: bool = False


class Replica(Protocol):
    """The remote copy that keeps every version (Neo4j over Bolt is one implementation)."""

    async def ping(self) -> str:
        """The server's version; raises when unreachable or refusing us."""
        ...

    async def apply(self, changes: Sequence[Change]) -> list[ApplyOutcome]:
        """Store every change as history and advance each memory's head when the change is
        newer by last-write-wins order, all in one transaction. Replays are no-ops."""
        ...

    async def changes_since(self, cursor: int, limit: int) -> list[RemoteChange]:
        """Heads changed after sequence number `cursor`, in sequence order."""
        ...

    async def export_heads(self, flt: ExportFilter, after_id: str, limit: int) -> list[Memory]:
        """A page of current versions (embeddings included), ordered by id after `after_id`."""
        ...

    async def export_versions(self, memory_ids: Sequence[str]) -> list[Memory]:
        """Every stored version of these memories (without embeddings)."""
        ...

    async def export_context(self) -> tuple[list[Session], list[Project]]:
        """All sessions and projects."""
        ...

    async def fingerprints(self, flt: ExportFilter) -> list[Fingerprint]:
        """Fingerprints of the current versions matching `flt`, ordered by id; each hash is
        checked against the stored text."""
        ...

    async def memory_count(self, flt: ExportFilter | None = None) -> int:
        """Memories on the replica, tombstones included (only those matching `flt` if given)."""
        ...

    async def close(self) -> None: ...
