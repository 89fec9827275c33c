"""SyncEngine: the replica side of a memvault process — push, pull, status, and their loop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

import structlog

from memvault.config import Settings
from memvault.errors import MemvaultError
from memvault.models import SyncDirection, SyncResult, utc_now
from memvault.remote.protocol import Replica
from memvault.store import LocalStore
from memvault.sync.pull import PullReport, pull_once
from memvault.sync.replicator import DrainReport, Replicator

ORIGIN_KEY = "origin"
PING_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class SyncStatusReport:
    """The answer of GET /api/sync/status and `memvault status`'s sync part (invariant 6)."""

    healthy: bool
    neo4j_connected: bool
    queue_size: int
    pending_count: int
    held_count: int
    failed_count: int
    last_sync: datetime | None
    last_error: str | None
    replication_lag_s: float
    oldest_pending_age_s: float
    neo4j_error: str | None = None


class SyncEngine:
    """Owns the replica connection and the replicator for one local store."""

    def __init__(
        self,
        store: LocalStore,
        replica: Replica,
        *,
        clock: Callable[[], datetime] = utc_now,
        pull_interval_s: float = 5.0,
    ) -> None:
        self.store = store
        self.replica = replica
        self._clock = clock
        self._pull_interval_s = pull_interval_s
        self.origin = self._origin()
        self.replicator = Replicator(store, replica, origin=self.origin, clock=clock)

    @classmethod
    def from_settings(cls, store: LocalStore, settings: Settings) -> SyncEngine:
        """An engine over the Neo4j replica of NEO4J_URI (the driver connects lazily)."""
        from memvault.remote.neo4j import Neo4jReplica

        return cls(store, Neo4jReplica.from_settings(settings))

    def _origin(self) -> str:
        """This store's stable id, made on first use: tells replicas who made a change."""
        known = self.store.synclog.get_state(ORIGIN_KEY)
        if known is None:
            known = str(uuid4())
            self.store.synclog.set_state(ORIGIN_KEY, known, self._clock())
        return known

    async def push(self) -> DrainReport:
        """Drain the outbox now."""
        return await self.replicator.run_once()

    async def pull(self) -> PullReport:
        """Bring down what other machines wrote to the replica."""
        return await pull_once(self.store, self.replica, clock=self._clock)

    async def status(self) -> SyncStatusReport:
        """Connectivity, queue, lag and the last sync result."""
        now = self._clock()
        counts = await asyncio.to_thread(self.store.outbox.counts, now)
        connected, neo4j_error = True, None
        try:
            await asyncio.wait_for(self.replica.ping(), PING_TIMEOUT_S)
        except (MemvaultError, TimeoutError) as exc:
            connected, neo4j_error = False, str(exc) or "no answer"
        pushes = self.store.synclog.events(limit=1, direction=SyncDirection.LOCAL_TO_REMOTE)
        successes = self.store.synclog.events(
            limit=1, direction=SyncDirection.LOCAL_TO_REMOTE, result=SyncResult.SUCCESS
        )
        last_error = pushes[0].error if pushes and pushes[0].result != SyncResult.SUCCESS else None
        oldest = counts.oldest_created_at
        lag = max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
        oldest_any = self.store.outbox.oldest_created_at()
        return SyncStatusReport(
            healthy=connected and counts.failed == 0 and last_error is None,
            neo4j_connected=connected,
            queue_size=counts.total,
            pending_count=counts.total - counts.held,
            held_count=counts.held,
            failed_count=counts.failed,
            last_sync=successes[0].created_at if successes else None,
            last_error=last_error,
            replication_lag_s=round(lag, 3),
            oldest_pending_age_s=round(
                max(0.0, (now - oldest_any).total_seconds()) if oldest_any else 0.0, 3
            ),
            neo4j_error=neo4j_error,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """The background loop of a server: push on every write (and poll), pull periodically."""
        pusher = asyncio.create_task(self.replicator.run_forever(stop))
        try:
            while not stop.is_set():
                try:
                    await self.pull()
                except MemvaultError:
                    pass  # recorded by the pull itself; the next round retries
                except Exception:  # never let one bad pull end replication
                    structlog.get_logger("memvault.sync").exception("pull crashed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._pull_interval_s)
        finally:
            stop.set()
            await pusher

    async def close(self) -> None:
        await self.replica.close()
