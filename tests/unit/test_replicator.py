"""The replicator's policy, driven with an injected clock and a scripted replica.

The scripted replica stands in for the transport only (the Neo4j contract is tested against the
real server in tests/integration); here it lets a test decide when the replica is down or
refuses one change, which a real server cannot be made to do on cue.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from manual_clock import ManualClock as Clock
from memvault.errors import RejectedError, UnavailableError
from memvault.models import Memory, Operation, Project, Session, SyncStatus
from memvault.remote.protocol import ApplyOutcome, Change
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.store.embeddings import Embedded
from memvault.sync.replicator import Backoff, Replicator

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class ScriptedReplica:
    """Keeps the newest version per memory; can be down, or refuse chosen memories."""

    def __init__(self) -> None:
        self.down = False
        self.refuse: set[UUID] = set()
        self.heads: dict[UUID, Memory] = {}
        self.batches: list[int] = []
        self.sessions: dict[str, Session] = {}
        self.vectors: dict[str, list[float]] = {}

    async def apply_embeddings(self, items: Sequence[Embedded]) -> int:
        if self.down:
            raise UnavailableError("Neo4j is unreachable: connection refused")
        self.vectors.update((item.memory_id, item.vector) for item in items)
        return len(items)

    async def apply_context(self, sessions: Sequence[Session], projects: Sequence[Project]) -> None:
        if self.down:
            raise UnavailableError("Neo4j is unreachable: connection refused")
        self.sessions.update((session.id, session) for session in sessions)

    async def apply(self, changes: Sequence[Change]) -> list[ApplyOutcome]:
        if self.down:
            raise UnavailableError("Neo4j is unreachable: connection refused")
        if any(change.memory.id in self.refuse for change in changes):
            raise RejectedError("Neo4j rejected the query: Neo.ClientError.Statement.TypeError")
        self.batches.append(len(changes))
        outcomes = []
        for change in changes:
            held = self.heads.get(change.memory.id)
            newer = held is None or change.memory.version_key() > held.version_key()
            if newer:
                self.heads[change.memory.id] = change.memory
            head = self.heads[change.memory.id]
            outcomes.append(
                ApplyOutcome(
                    change.memory.id,
                    change.memory.event_id or UUID(int=0),
                    newer,
                    f"remote-{change.memory.id}",
                    head.sync_version,
                    str(head.event_id),
                )
            )
        return outcomes


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def replica() -> ScriptedReplica:
    return ScriptedReplica()


def replicator(
    store: LocalStore, replica: ScriptedReplica, clock: Clock, **kw: object
) -> Replicator:
    return Replicator(
        store,
        replica,  # type: ignore[arg-type]
        origin="unit",
        clock=clock,
        rng=random.Random(7),
        **kw,  # type: ignore[arg-type]
    )


def test_drains_in_order_in_batches_and_marks_synced(
    store: LocalStore, replica: ScriptedReplica, clock: Clock
) -> None:
    service = MemoryService(store, clock=clock)
    memories = [service.remember({"content": f"memory {i}"}) for i in range(25)]
    service.update(memories[0].id, {"content": "memory 0, changed"})

    report = asyncio.run(replicator(store, replica, clock, batch_size=10).run_once())

    assert (report.sent, report.batches, report.error) == (26, 3, None)
    assert replica.batches == [10, 10, 6]
    assert store.outbox_size() == 0
    assert replica.heads[memories[0].id].content == "memory 0, changed"
    # The session the memories joined went first, once, and is not sent again.
    assert list(replica.sessions) == [memories[0].session_id]
    assert store.sessions.unsynced().sessions == []
    for memory in memories:
        stored = store.get(memory.id)
        assert stored is not None
        assert stored.sync_status == SyncStatus.SYNCED
        assert stored.remote_id == f"remote-{memory.id}"
        assert stored.synced_at == START
    events = store.synclog.events(limit=10)
    assert [e.count for e in reversed(events)] == [1, 10, 10, 6]


def test_unavailable_replica_keeps_everything_with_backoff_and_the_error(
    store: LocalStore, replica: ScriptedReplica, clock: Clock
) -> None:
    service = MemoryService(store, clock=clock)
    ids = [service.remember({"content": f"queued {i}"}).id for i in range(3)]
    replica.down = True
    backoff = Backoff(base_s=1.0, cap_s=8.0)
    drain = replicator(store, replica, clock, backoff=backoff)

    for attempt in range(1, 6):
        report = asyncio.run(drain.run_once())
        assert report.sent == 0
        assert report.error is not None
        items = store.outbox.claim_due(START + timedelta(days=1), 10)
        assert [i.retry_count for i in items] == [attempt] * 3
        for item in items:
            assert item.last_error == "Neo4j is unreachable: connection refused"
            assert item.next_retry_at is not None
            delay = (item.next_retry_at - clock.now).total_seconds()
            assert 0 <= delay <= min(8.0, 2**attempt)  # full jitter under the capped ceiling
        # Nothing is due before its retry time; once the clock passes it, all are tried again.
        clock.now += timedelta(seconds=9)
    assert all(store.get(i).sync_status == SyncStatus.QUEUED for i in ids)  # type: ignore[union-attr]
    assert store.synclog.events(limit=1)[0].result == "failed"

    replica.down = False
    report = asyncio.run(drain.run_once())
    assert report.sent == 3
    assert store.outbox_size() == 0


def test_a_refused_change_is_isolated_and_kept_as_failed(
    store: LocalStore, replica: ScriptedReplica, clock: Clock
) -> None:
    service = MemoryService(store, clock=clock)
    memories = [service.remember({"content": f"item {i}"}) for i in range(8)]
    poison = memories[5]
    replica.refuse = {poison.id}

    report = asyncio.run(replicator(store, replica, clock).run_once())

    assert (report.sent, report.rejected) == (7, 1)
    assert set(replica.heads) == {m.id for m in memories} - {poison.id}
    [left] = store.outbox.claim_due(START + timedelta(days=1), 10)
    assert left.memory_id == poison.id
    assert left.retry_count == 1
    assert left.last_error is not None
    assert "TypeError" in left.last_error
    assert store.get(poison.id).sync_status == SyncStatus.FAILED  # type: ignore[union-attr]
    assert store.synclog.events(limit=1)[0].result == "partial"


def test_held_deletes_are_not_sent_until_released(
    store: LocalStore, replica: ScriptedReplica, clock: Clock
) -> None:
    service = MemoryService(store, clock=clock)
    keep = service.remember({"content": "stays"})
    doomed = service.remember({"content": "to be deleted"})
    asyncio.run(replicator(store, replica, clock).run_once())

    store.outbox.hold(Operation.DELETE, "delete burst")
    service.forget(doomed.id)
    service.update(keep.id, {"importance": 0.9})
    asyncio.run(replicator(store, replica, clock).run_once())

    assert replica.heads[doomed.id].deleted_at is None  # the replica keeps it live
    assert replica.heads[keep.id].importance == 0.9  # other changes still flow
    assert [i.operation for i in store.outbox.held()] == [Operation.DELETE]

    assert store.outbox.release(Operation.DELETE) == 1
    asyncio.run(replicator(store, replica, clock).run_once())
    assert replica.heads[doomed.id].deleted_at is not None
    assert store.outbox_size() == 0


def test_a_newer_local_change_keeps_the_memory_pending(
    store: LocalStore, replica: ScriptedReplica, clock: Clock
) -> None:
    service = MemoryService(store, clock=clock)
    memory = service.remember({"content": "first"})
    first_batch = store.outbox.claim_due(clock.now, 10)
    service.update(memory.id, {"content": "second"})
    # Acknowledge only the first version: the second still waits, so the row stays pending.
    store.outbox.acknowledge(first_batch, {memory.id: "r"}, clock.now)
    assert store.get(memory.id).sync_status == SyncStatus.PENDING  # type: ignore[union-attr]


def test_backoff_is_capped_full_jitter() -> None:
    rng = random.Random(1)
    backoff = Backoff(base_s=0.5, cap_s=60.0)
    delays = [backoff.delay(attempt, rng).total_seconds() for attempt in range(40)]
    assert all(0 <= d <= 60.0 for d in delays)
    assert max(delays[:3]) <= 4.0
    assert max(delays[10:]) > 30  # reaches the cap's range, never beyond it
