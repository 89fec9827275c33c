"""The outbox drain: local changes to the replica, in order, in batches, with backoff.

Policy lives here (litestream's split): the replica only moves bytes and raises
UnavailableError or RejectedError; this module decides what to retry, when, and what to hold.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

import structlog

from memvault.errors import RejectedError, UnavailableError
from memvault.models import (
    Memory,
    SyncDirection,
    SyncQueueItem,
    SyncResult,
    SyncStatus,
    utc_now,
)
from memvault.remote.protocol import ApplyOutcome, Change, Replica
from memvault.store import LocalStore
from memvault.store.outbox import Retry
from memvault.sync.audit import SyncTimer, log_operation

# One UNWIND transaction per batch. 1,000 keeps a batch's parameters (with 384-dim embeddings,
# ~4 MB) and the SQLite acknowledge statement small while amortising the round trip.
DEFAULT_BATCH_SIZE = 1000


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter: a delay drawn from [0, min(cap, base * 2^attempt)]."""

    base_s: float = 0.5
    cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        ceiling = min(self.cap_s, self.base_s * 2 ** min(attempt, 32))
        return timedelta(seconds=rng.uniform(0, ceiling))


@dataclass
class DrainReport:
    """What one drain did."""

    sent: int = 0  # changes the replica committed (applied or already there)
    applied: int = 0  # heads the replica advanced
    batches: int = 0
    rejected: int = 0  # changes the replica refused; kept in the outbox as failed
    embeddings: int = 0  # vectors set on the replica after their memory replicated
    error: str | None = None  # why the drain stopped early (replica unavailable)
    memory_ids: list[str] = field(default_factory=list)


class Replicator:
    """Drains the outbox into a replica. Deterministic core: inject `clock` and `rng`, call
    `run_once()`; `run_forever()` adds the wake-up and polling loop of a running server."""

    def __init__(
        self,
        store: LocalStore,
        replica: Replica,
        *,
        origin: str,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        backoff: Backoff | None = None,
    ) -> None:
        self._store = store
        self._replica = replica
        self._origin = origin
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._batch_size = batch_size
        self._backoff = backoff or Backoff()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run_once(self, max_batches: int | None = None) -> DrainReport:
        """Send changed sessions and projects, then every due outbox entry, batch by batch, until
        none is due or the replica fails."""
        report = DrainReport()
        await self._push_context(report)
        while max_batches is None or report.batches < max_batches:
            items = await asyncio.to_thread(
                self._store.outbox.claim_due, self._clock(), self._batch_size
            )
            if not items:
                break
            report.batches += 1
            if not await self._send_batch(items, report):
                return report
        await self._push_embeddings(report)
        return report

    async def _push_context(self, report: DrainReport) -> None:
        """Send sessions and projects whose latest change has not reached the replica (starts,
        ends, summaries, names). A failure is recorded; they ride again with the next drain,
        and memories do not wait for them (each memory carries its own session link)."""
        unsent = await asyncio.to_thread(self._store.sessions.unsynced)
        if not unsent.sessions and not unsent.projects:
            return
        timer = SyncTimer("push_context", SyncDirection.LOCAL_TO_REMOTE)
        count = len(unsent.sessions) + len(unsent.projects)
        try:
            await self._replica.apply_context(
                [session for session, _ in unsent.sessions],
                [project for project, _ in unsent.projects],
            )
        except (UnavailableError, RejectedError) as exc:
            report.error = str(exc)
            timer.finish(self._store, SyncResult.FAILED, self._clock(), count=0, error=str(exc))
            return
        await asyncio.to_thread(self._store.sessions.mark_synced, unsent)
        timer.finish(self._store, SyncResult.SUCCESS, self._clock(), count=count)

    async def _push_embeddings(self, report: DrainReport) -> None:
        """Send vectors computed after their memory replicated, batch by batch. A failure is
        recorded; they wait for the next drain."""
        while vectors := await asyncio.to_thread(self._store.embeddings.unsynced, self._batch_size):
            timer = SyncTimer("push_embeddings", SyncDirection.LOCAL_TO_REMOTE)
            timer.add(UUID(item.memory_id) for item in vectors)
            try:
                applied = await self._replica.apply_embeddings(vectors)
            except (UnavailableError, RejectedError) as exc:
                report.error = str(exc)
                timer.finish(self._store, SyncResult.FAILED, self._clock(), count=0, error=str(exc))
                return
            # Vectors of superseded versions are dropped by the replica: done with them too.
            await asyncio.to_thread(self._store.embeddings.mark_synced, vectors)
            report.embeddings += applied
            timer.finish(self._store, SyncResult.SUCCESS, self._clock(), count=len(vectors))

    async def _send_batch(self, items: list[SyncQueueItem], report: DrainReport) -> bool:
        """Send one batch; False when the replica is unavailable (stop draining for now)."""
        timer = SyncTimer("push", SyncDirection.LOCAL_TO_REMOTE, extra={"batch": len(items)})
        timer.retries = sum(item.retry_count for item in items)
        try:
            committed, outcomes, refused = await self._apply_isolating(items)
        except UnavailableError as exc:
            await self._reschedule(items, str(exc), SyncStatus.QUEUED)
            report.error = str(exc)
            timer.add(item.memory_id for item in items)
            timer.finish(self._store, SyncResult.FAILED, self._clock(), count=0, error=str(exc))
            return False
        if committed:
            remote_ids = {outcome.memory_id: outcome.remote_id for outcome in outcomes}
            await asyncio.to_thread(
                self._store.outbox.acknowledge, committed, remote_ids, self._clock()
            )
        for item, error in refused:
            await self._reschedule([item], error, SyncStatus.FAILED)
        report.sent += len(committed)
        report.applied += sum(1 for outcome in outcomes if outcome.applied)
        report.rejected += len(refused)
        report.memory_ids.extend(str(item.memory_id) for item in committed)
        timer.add(item.memory_id for item in committed)
        result = SyncResult.SUCCESS if not refused else SyncResult.PARTIAL
        refusals = "; ".join(f"{item.memory_id}: {message}" for item, message in refused)
        timer.finish(self._store, result, self._clock(), error=refusals or None)
        return True

    async def _apply_isolating(
        self, items: Sequence[SyncQueueItem]
    ) -> tuple[list[SyncQueueItem], list[ApplyOutcome], list[tuple[SyncQueueItem, str]]]:
        """Apply a batch; when the replica refuses it, split it to find the refused entries so
        one bad change cannot block the rest. Unavailability propagates."""
        try:
            outcomes = await self._replica.apply([self._change(item) for item in items])
            return list(items), outcomes, []
        except RejectedError as exc:
            if len(items) == 1:
                return [], [], [(items[0], str(exc))]
        middle = len(items) // 2
        first = await self._apply_isolating(items[:middle])
        second = await self._apply_isolating(items[middle:])
        return first[0] + second[0], first[1] + second[1], first[2] + second[2]

    def _change(self, item: SyncQueueItem) -> Change:
        return Change(item.operation, Memory.model_validate(item.payload), self._origin)

    async def _reschedule(
        self, items: Sequence[SyncQueueItem], error: str, status: SyncStatus
    ) -> None:
        now = self._clock()
        retries = [
            Retry(item.id, now + self._backoff.delay(item.retry_count + 1, self._rng))
            for item in items
        ]
        await asyncio.to_thread(self._store.outbox.reschedule, retries, error, status)
        log_operation(
            "retry",
            SyncDirection.LOCAL_TO_REMOTE,
            SyncResult.QUEUED if status is SyncStatus.QUEUED else SyncResult.FAILED,
            (item.memory_id for item in items),
            now,
            retries=max(item.retry_count for item in items) + 1,
            error=error,
            next_retry_at=min(retry.next_retry_at for retry in retries).isoformat(),
        )

    # -- the running loop -------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to drain now; safe to call from any thread (e.g. after a write)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run_forever(self, stop: asyncio.Event, poll_interval_s: float = 0.2) -> None:
        """Drain whenever woken, and every `poll_interval_s` to catch other processes' writes
        and retries that came due. Errors are recorded by the drain; the loop never dies."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:  # a broken drain is logged and retried, never fatal to the server
                structlog.get_logger("memvault.sync").exception("replicator drain crashed")
            waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
            _done, pending = await asyncio.wait(
                waiters, timeout=poll_interval_s, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
