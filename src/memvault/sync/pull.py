"""Pull (remote_to_local): bring down what other machines wrote to the replica.

Reads the replica's changed heads in sequence order from a cursor kept in the store, judges each
against the local copy (last-write-wins, conflicts recorded; see conflicts.py), writes the result
without outbox entries, and advances the cursor only after that write committed. Re-reading a
page is harmless: every decision is idempotent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from memvault.errors import UnavailableError
from memvault.models import Memory, SyncDirection, SyncResult, SyncStatus
from memvault.remote.protocol import RemoteChange, Replica
from memvault.store import LocalStore
from memvault.store.local import PulledWrite, ReplicationState
from memvault.sync.audit import SyncTimer
from memvault.sync.conflicts import Decision, Verdict, decide, log_conflict

CURSOR_KEY = "pull_cursor"
DEFAULT_BATCH_SIZE = 1000
# A memory edited locally between our read and our write is judged again; a memory edited on
# every attempt is left for the next pull rather than holding this one up.
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class PullReport:
    """What one pull did. `pulled` = inserted + updated + unchanged; `conflicts` overlaps them."""

    pulled: int
    inserted: int
    updated: int
    unchanged: int
    conflicts: int
    cursor: int


@dataclass
class _Tally:
    pulled: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    conflicts: int = 0

    def count(self, decision: Decision) -> None:
        self.pulled += 1
        if decision.verdict is Verdict.INSERT:
            self.inserted += 1
        elif decision.verdict is Verdict.UPDATE:
            self.updated += 1
        else:
            self.unchanged += 1
        if decision.conflict is not None:
            self.conflicts += 1


def pull_cursor(store: LocalStore) -> int:
    """The replica sequence number this store has pulled up to (0: nothing yet)."""
    return int(store.synclog.get_state(CURSOR_KEY) or 0)


async def pull_once(
    store: LocalStore,
    replica: Replica,
    *,
    clock: Callable[[], datetime],
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PullReport:
    """Pull every change after the stored cursor, page by page.

    Ends with one SyncEvent row and log line (and one log line per conflict). On failure the
    event is recorded as failed and the error is raised; pages already written stay written and
    the cursor stays after them.
    """
    timer = SyncTimer("pull", SyncDirection.REMOTE_TO_LOCAL)
    tally = _Tally()
    cursor = await asyncio.to_thread(pull_cursor, store)
    try:
        while True:
            page = await replica.changes_since(cursor, batch_size)
            if not page:
                break
            changed = await _apply_page(store, replica, page, clock, tally)
            timer.add(changed)
            cursor = page[-1].seq
            await asyncio.to_thread(store.synclog.set_state, CURSOR_KEY, str(cursor), clock())
            if len(page) < batch_size:
                break
    except Exception as exc:
        timer.extra.update(_summary(tally, cursor))
        timer.finish(store, SyncResult.FAILED, clock(), error=str(exc) or type(exc).__name__)
        raise
    timer.extra.update(_summary(tally, cursor))
    timer.finish(store, SyncResult.SUCCESS, clock())
    return PullReport(
        tally.pulled, tally.inserted, tally.updated, tally.unchanged, tally.conflicts, cursor
    )


async def _apply_page(
    store: LocalStore,
    replica: Replica,
    page: Sequence[RemoteChange],
    clock: Callable[[], datetime],
    tally: _Tally,
) -> list[UUID]:
    """Judge and write one page; returns the ids of memories whose local copy changed."""
    waiting = {change.memory.id: change.memory for change in page}
    changed: list[UUID] = []
    for _ in range(MAX_ATTEMPTS):
        states = await asyncio.to_thread(store.replication_states, list(waiting))
        # The replica's history of each memory whose remote version we take: judging an update
        # needs it, and keeping it gives a pulled memory the same history as a recovered one.
        taken = [mid for mid, remote in waiting.items() if _remote_wins(remote, states.get(mid))]
        history = await _histories(replica, taken)
        now = clock()
        plans = {
            mid: _plan(remote, states.get(mid), history.get(mid, []), now)
            for mid, remote in waiting.items()
        }
        writes = [write for _decision, write in plans.values() if write is not None]
        skipped = set(await asyncio.to_thread(store.put_pulled, writes, now))
        for mid, (decision, write) in plans.items():
            if mid in skipped:
                continue
            tally.count(decision)
            if decision.verdict in (Verdict.INSERT, Verdict.UPDATE) or decision.conflict:
                changed.append(mid)
            if decision.conflict is not None and write is not None and write.conflict:
                log_conflict(write.conflict[0], write.conflict[1], decision.conflict, now)
        waiting = {mid: waiting[mid] for mid in waiting if mid in skipped}
        if not waiting:
            return changed
    example = next(iter(waiting))
    raise UnavailableError(
        f"{len(waiting)} memories kept changing locally during the pull (e.g. {example});"
        " the next pull takes them up again"
    )


def _remote_wins(remote: Memory, local: ReplicationState | None) -> bool:
    return local is None or remote.version_key() > local.memory.version_key()


async def _histories(replica: Replica, memory_ids: Sequence[UUID]) -> dict[UUID, list[Memory]]:
    if not memory_ids:
        return {}
    by_memory: dict[UUID, list[Memory]] = {}
    for version in await replica.export_versions([str(mid) for mid in memory_ids]):
        by_memory.setdefault(version.id, []).append(version)
    return by_memory


def _plan(
    remote: Memory, local: ReplicationState | None, history: list[Memory], now: datetime
) -> tuple[Decision, PulledWrite | None]:
    """The decision for one remote head and the store write that carries it out (None: none)."""
    decision = decide(remote, local, history)
    if local is None:
        row = remote.model_copy(update={"sync_status": SyncStatus.SYNCED, "synced_at": now})
        return decision, PulledWrite(remote.id, None, row=row, history=[*history, remote])
    mine = local.memory
    seen = (str(mine.event_id) if mine.event_id else None, mine.sync_status.value)
    learned = [v for v in [*history, remote] if str(v.event_id) not in local.known_event_ids]
    if decision.verdict is Verdict.UPDATE:
        in_conflict = decision.conflict is not None or mine.sync_status is SyncStatus.CONFLICT
        row = remote.model_copy(
            update={
                # A memory in conflict stays so until someone resolves it.
                "sync_status": SyncStatus.CONFLICT if in_conflict else SyncStatus.SYNCED,
                "synced_at": now,
                "remote_id": mine.remote_id,
            }
        )
        conflict = (mine, remote, "remote") if decision.conflict else None
        return decision, PulledWrite(remote.id, seen, row=row, conflict=conflict, history=learned)
    if decision.verdict is Verdict.SAME:
        # Our own change came back: synced, unless more local changes wait or it is in conflict.
        done = (SyncStatus.SYNCED, SyncStatus.CONFLICT)
        if local.pending or mine.sync_status in done:
            return decision, None
        return decision, PulledWrite(remote.id, seen, mark_synced=True)
    if decision.conflict is not None:
        conflict = (mine, remote, "local")
        return decision, PulledWrite(remote.id, seen, conflict=conflict, history=learned)
    return decision, None


def _summary(tally: _Tally, cursor: int) -> dict[str, int]:
    return {
        "pulled": tally.pulled,
        "inserted": tally.inserted,
        "updated": tally.updated,
        "unchanged": tally.unchanged,
        "conflicts": tally.conflicts,
        "cursor": cursor,
    }
