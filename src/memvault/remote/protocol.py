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

from memvault.models import (
    Alert,
    Memory,
    MemoryFilter,
    Operation,
    Project,
    ProjectSummary,
    SearchHit,
    Session,
    SessionDetail,
    SessionFilter,
)
from memvault.store.embeddings import Embedded


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

    async def apply_embeddings(self, items: Sequence[Embedded]) -> int:
        """Set each memory's vector (with model and dimension) where the replica's current
        version is the one the vector was computed for; returns how many were set. A vector
        for a superseded version is dropped: the newer text needs its own."""
        ...

    async def record_alerts(self, alerts: Sequence[Alert]) -> None:
        """Keep destruction alerts as audit records (upserted by id: replays change nothing
        but the state a person moved an alert to)."""
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

    async def apply_context(self, sessions: Sequence[Session], projects: Sequence[Project]) -> None:
        """Upsert sessions (with their PART_OF project and FOLLOWED_BY chain) and projects in
        one transaction. A field the incoming copy leaves empty keeps the replica's value."""
        ...

    async def fingerprints(self, flt: ExportFilter) -> list[Fingerprint]:
        """Fingerprints of the current versions matching `flt`, ordered by id; each hash is
        checked against the stored text."""
        ...

    async def memory_count(self, flt: ExportFilter | None = None) -> int:
        """Memories on the replica, tombstones included (only those matching `flt` if given)."""
        ...

    async def close(self) -> None: ...


class ReplicaQueries(Protocol):
    """The read side of the replica: the local store's queries, answered from the remote (when
    the local store is gone, or on request). Same filters, same meaning, same result shapes."""

    async def search_memories(
        self,
        text: str,
        vector: list[float] | None,
        flt: MemoryFilter,
        min_similarity: float | None = None,
    ) -> list[SearchHit]:
        """Fulltext (and, given a query vector, vector-index) search fused by reciprocal rank;
        vector candidates below `min_similarity` (cosine; None: no floor) are left out."""
        ...

    async def list_memories(self, flt: MemoryFilter) -> list[Memory]:
        """Current versions matching `flt`, newest first."""
        ...

    async def list_sessions(self, flt: SessionFilter) -> list[Session]:
        """Sessions matching `flt`, most recently started first."""
        ...

    async def get_session(self, session_id: str) -> SessionDetail | None:
        """A session and its live memories (oldest first); None when unknown."""
        ...

    async def list_projects(self) -> list[ProjectSummary]:
        """Every project with its live memory count, session count and last activity."""
        ...
