"""Recovery: rebuild the local store from the replica, additively and idempotently (invariant 5).

Heads are read page by page in id order; each page is judged against the local copies and
written in one SQLite transaction, with its version history, sessions and projects. A memory
missing locally is inserted; one whose local copy is older and has no unsent changes is
replaced; an equal one is skipped; a newer local copy, or one with unsent changes, is never
overwritten and is counted as a conflict. `as_of` restores the state at a past moment from the
version history. The run ends by verifying the recovered scope against the replica.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import ValidationInfo, field_validator

from memvault.errors import MemvaultError
from memvault.models import (
    Identifier,
    Memory,
    Project,
    Session,
    StrictModel,
    SyncDirection,
    SyncResult,
    SyncStatus,
    UtcDatetime,
    checked_hash,
)
from memvault.remote.protocol import ExportFilter, Fingerprint, Replica
from memvault.store import LocalStore
from memvault.store.local import ReplicationState
from memvault.sync.audit import SyncTimer
from memvault.sync.verify import (
    EVENT_IDS,
    VerifyReport,
    compare,
    compare_with_replica,
    local_fingerprints,
)

# Heads per page: one export query and one SQLite transaction each. 2,000 heads with 384-dim
# vectors are ~6 MB on the wire: large enough to amortise round trips, small enough to stream.
PAGE_SIZE = 2_000

Progress = Callable[[int, int], None]


class RecoveryOptions(StrictModel):
    """What to recover. Every option narrows or shapes the run; none of them deletes."""

    project_id: Identifier | None = None  # only this project's memories
    since: UtcDatetime | None = None  # only memories updated at or after this moment
    as_of: UtcDatetime | None = None  # the state at this moment, from the version history
    dry_run: bool = False  # judge and count, write nothing
    include_deleted: bool = False  # also restore tombstones the store does not hold

    @field_validator("as_of")
    @classmethod
    def _after_since(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        since = info.data.get("since")
        if value is not None and since is not None and since > value:
            raise ValueError("as_of must not be earlier than since")
        return value


@dataclass(frozen=True)
class RecoveryReport:
    """What a recovery did, and whether the result matches the replica."""

    recovered: int  # inserted or replaced (with dry_run: would be)
    skipped: int  # already held in the same version
    conflicts: int  # local copy newer or with unsent changes: left alone
    duration_s: float
    verified: bool  # the recovered scope matches the replica (never, for a dry run)
    digest_local: str
    digest_remote: str
    drift: int  # memories whose copies still differ after the run
    dry_run: bool
    conflict_ids: list[str] = field(default_factory=list)
    verification: VerifyReport | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the CLI's --json and the API."""
        return {
            "recovered": self.recovered,
            "skipped": self.skipped,
            "conflicts": self.conflicts,
            "duration_s": self.duration_s,
            "verified": self.verified,
            "digest_local": self.digest_local,
            "digest_remote": self.digest_remote,
            "drift": self.drift,
            "dry_run": self.dry_run,
            "conflict_ids": self.conflict_ids[:100],
            "verification": self.verification.as_dict() if self.verification else None,
        }


class _Verdict(Enum):
    WRITE = "write"  # missing locally, or older with nothing unsent
    SAME = "same"
    KEEP_LOCAL = "keep_local"  # newer locally, unsent, or in an open conflict


def judge(remote: Memory, state: ReplicationState | None) -> _Verdict:
    """Recovery's rule for one memory: never overwrite local work the replica has not seen."""
    if state is None:
        return _Verdict.WRITE
    local = state.memory
    if local.version_key() == remote.version_key():
        return _Verdict.SAME
    if (
        state.pending
        or local.sync_status is SyncStatus.CONFLICT
        or local.version_key() > remote.version_key()
    ):
        return _Verdict.KEEP_LOCAL
    return _Verdict.WRITE


async def recover(
    store: LocalStore,
    replica: Replica,
    options: RecoveryOptions,
    *,
    clock: Callable[[], datetime],
    progress: Progress | None = None,
    page_size: int = PAGE_SIZE,
) -> RecoveryReport:
    """Rebuild the local store from the replica (see the module docstring); ends by verifying.

    Leaves one SyncEvent row and log line. On a replica failure the event is recorded as failed
    and the error raised; pages already written stay (running again continues the job).
    """
    timer = SyncTimer("recovery", SyncDirection.REMOTE_TO_LOCAL)
    run = _Run(store, replica, options, clock(), page_size)
    try:
        await run.all_pages(progress)
        verification = None if options.dry_run else await run.verify()
    except MemvaultError as exc:
        timer.add(run.recovered_ids[:EVENT_IDS])
        timer.finish(
            store, SyncResult.FAILED, clock(), count=len(run.recovered_ids), error=str(exc)
        )
        raise
    report = RecoveryReport(
        recovered=run.would_write if options.dry_run else len(run.recovered_ids),
        skipped=run.skipped,
        conflicts=len(run.conflict_ids),
        duration_s=round(time.perf_counter() - timer.started, 3),
        verified=verification is not None and verification.in_sync,
        digest_local=verification.digest_local if verification else "",
        digest_remote=verification.digest_remote if verification else "",
        drift=len(verification.drift) if verification else 0,
        dry_run=options.dry_run,
        conflict_ids=run.conflict_ids,
        verification=verification,
    )
    timer.add(run.recovered_ids[:EVENT_IDS])
    timer.extra.update(
        options.model_dump(mode="json", exclude_none=True),
        **{k: v for k, v in report.as_dict().items() if k not in ("conflict_ids", "verification")},
    )
    clean = options.dry_run or (report.verified and not report.conflicts)
    result = SyncResult.SUCCESS if clean else SyncResult.PARTIAL
    timer.finish(store, result, clock(), count=len(run.recovered_ids))
    return report


class _Run:
    """The state of one recovery: options, tallies, and what has been written so far."""

    def __init__(
        self,
        store: LocalStore,
        replica: Replica,
        options: RecoveryOptions,
        now: datetime,
        page_size: int,
    ) -> None:
        self.store = store
        self.replica = replica
        self.options = options
        self.now = now
        self.page_size = page_size
        self.recovered_ids: list[UUID] = []
        self.would_write = 0
        self.skipped = 0
        self.conflict_ids: list[str] = []
        self.targets: dict[str, Fingerprint] = {}  # as_of: the versions chosen, by id
        self.sessions: dict[str, Session] = {}
        self.projects: dict[str, Project] = {}
        self.context_done: set[str] = set()

    @property
    def head_filter(self) -> ExportFilter:
        # Tombstones are read too: one may replace an older live copy held locally. With as_of,
        # `since` applies to the version chosen, not to the head.
        since = None if self.options.as_of else self.options.since
        return ExportFilter(self.options.project_id, since, include_deleted=True)

    async def all_pages(self, progress: Progress | None) -> None:
        total = await self.replica.memory_count(self.head_filter)
        sessions, projects = await self.replica.export_context()
        self.sessions = {s.id: s for s in sessions}
        self.projects = {p.id: p for p in projects}
        if not self.options.dry_run:
            await self._write([], [], {}, *self._initial_context())
        if progress:
            progress(0, total)
        done = 0
        # The next page is read while this one is judged and written (in a thread), so the
        # replica's time and SQLite's overlap.
        upcoming = asyncio.ensure_future(self._heads(after=""))
        try:
            while heads := await upcoming:
                upcoming = asyncio.ensure_future(self._heads(after=str(heads[-1].id)))
                await self._page(heads)
                done += len(heads)
                if progress:
                    progress(done, max(total, done))
        finally:
            if not upcoming.done():
                upcoming.cancel()
            elif not upcoming.cancelled():
                upcoming.exception()  # consumed: the error being raised, if any, is the page's

    async def _heads(self, after: str) -> list[Memory]:
        return await self.replica.export_heads(self.head_filter, after, self.page_size)

    async def _page(self, heads: Sequence[Memory]) -> None:
        """Judge one page against the local copies and write what should be written."""
        histories: dict[UUID, list[Memory]] | None = None
        candidates: Sequence[Memory] = heads
        if self.options.as_of is not None:
            candidates, histories = await self._as_of(heads, self.options.as_of)
        states = await asyncio.to_thread(self.store.replication_states, [m.id for m in candidates])
        writes: list[Memory] = []
        for memory in candidates:
            state = states.get(memory.id)
            if memory.is_deleted and state is None and not self.options.include_deleted:
                continue  # a tombstone of a memory this store never held: out of scope
            if self.options.as_of is not None:
                self.targets[str(memory.id)] = _fingerprint(memory)
            verdict = judge(memory, state)
            if verdict is _Verdict.SAME:
                self.skipped += 1
            elif verdict is _Verdict.KEEP_LOCAL:
                self.conflict_ids.append(str(memory.id))
            else:
                writes.append(self._synced(memory))
        if self.options.dry_run or not writes:
            self.would_write += len(writes)
            return
        if histories is None:
            history = await self.replica.export_versions([str(m.id) for m in writes])
        else:
            history = [version for m in writes for version in histories[m.id]]
        expected = {
            m.id: str(states[m.id].memory.event_id or "") if m.id in states else None
            for m in writes
        }
        written = await self._write(writes, history, expected, *self._context_for(writes))
        self.would_write += len(writes)
        self.recovered_ids.extend(written)
        # Rows changed locally between judging and writing were left alone: local work wins.
        done = set(written)
        self.conflict_ids.extend(str(m.id) for m in writes if m.id not in done)

    async def _as_of(
        self, heads: Sequence[Memory], as_of: datetime
    ) -> tuple[list[Memory], dict[UUID, list[Memory]]]:
        """Each head's version at `as_of` (the greatest by last-write-wins order among those
        updated by then), with the history up to it. The head's embedding is kept only when
        the text is the same; otherwise the version has none."""
        born = [head for head in heads if head.created_at <= as_of]
        versions = await self.replica.export_versions([str(h.id) for h in born]) if born else []
        by_memory: dict[UUID, list[Memory]] = {}
        for version in versions:
            if version.updated_at <= as_of:
                by_memory.setdefault(version.id, []).append(version)
        chosen: list[Memory] = []
        histories: dict[UUID, list[Memory]] = {}
        since = self.options.since
        for head in born:
            past = by_memory.get(head.id)
            if not past:
                continue
            version = max(past, key=Memory.version_key)
            if since is not None and version.updated_at < since:
                continue
            same_text = head.content_hash == version.content_hash
            chosen.append(
                version.model_copy(
                    update={
                        "remote_id": head.remote_id,
                        "embedding": head.embedding if same_text else None,
                        "embedding_model": head.embedding_model if same_text else None,
                        "embedding_dim": head.embedding_dim if same_text else None,
                    }
                )
            )
            histories[head.id] = past
        return chosen, histories

    def _synced(self, memory: Memory) -> Memory:
        return memory.model_copy(update={"sync_status": SyncStatus.SYNCED, "synced_at": self.now})

    async def _write(
        self,
        memories: Sequence[Memory],
        history: Sequence[Memory],
        expected: dict[UUID, str | None],
        sessions: Sequence[Session],
        projects: Sequence[Project],
    ) -> list[UUID]:
        written = await asyncio.to_thread(
            self.store.put_recovered,
            memories,
            history,
            expected=expected,
            sessions=sessions,
            projects=projects,
        )
        self.context_done.update(s.id for s in sessions)
        self.context_done.update(f"project:{p.id}" for p in projects)
        return written

    def _initial_context(self) -> tuple[list[Session], list[Project]]:
        """Sessions and projects in scope before any memory is read: all of them for a full
        recovery, a project's own for --project, none for --since (those come with memories)."""
        o = self.options
        if o.since is not None:
            return [], []
        sessions = [
            s
            for s in self.sessions.values()
            if (o.project_id is None or s.project_id == o.project_id)
            and (o.as_of is None or s.started_at <= o.as_of)
        ]
        projects = [
            p
            for p in self.projects.values()
            if (o.project_id is None or p.id == o.project_id)
            and (o.as_of is None or p.created_at <= o.as_of)
        ]
        return sessions, projects

    def _context_for(self, memories: Sequence[Memory]) -> tuple[list[Session], list[Project]]:
        """The sessions and projects these memories point at, not written yet in this run."""
        session_ids = {m.session_id for m in memories if m.session_id} - self.context_done
        sessions = [self.sessions[i] for i in sorted(session_ids) if i in self.sessions]
        project_ids = {m.project_id for m in memories if m.project_id}
        project_ids |= {s.project_id for s in sessions if s.project_id}
        projects = [
            self.projects[i]
            for i in sorted(project_ids)
            if i in self.projects and f"project:{i}" not in self.context_done
        ]
        return sessions, projects

    async def verify(self) -> VerifyReport:
        """Compare the recovered scope with the replica (with as_of: with the chosen versions)."""
        o = self.options
        if o.as_of is None:
            scope = ExportFilter(o.project_id, o.since, include_deleted=o.include_deleted)
            return await compare_with_replica(self.store, self.replica, scope)
        local = local_fingerprints(self.store, project_id=o.project_id)
        mine = {i: local[i] for i in self.targets if i in local}
        return compare(mine, self.targets, pending=self.store.pending_ids())


def _fingerprint(memory: Memory) -> Fingerprint:
    return Fingerprint(
        str(memory.id),
        memory.sync_version,
        checked_hash(memory.content_hash, memory.content),
        memory.is_deleted,
    )
