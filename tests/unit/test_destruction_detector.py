"""The destruction detector, delete quarantine and a person's decisions (revert, acknowledge),
on a real SQLite store with a clock the tests move. The scripted replica stands in for the
transport only; the Neo4j side is covered by tests/integration/test_destruction.py."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from manual_clock import ManualClock as Clock
from memvault.errors import InvalidInputError, NotFoundError
from memvault.models import AlertKind, AlertState, Memory, Operation, Project, Session, SyncStatus
from memvault.remote.protocol import ApplyOutcome, Change
from memvault.safety.detector import DetectionPolicy, hold_reason
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.store.embeddings import Embedded
from memvault.sync.replicator import Replicator

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


class ScriptedReplica:
    """Keeps the newest version of each memory it is sent."""

    def __init__(self) -> None:
        self.heads: dict[UUID, Memory] = {}

    async def apply_context(self, sessions: Sequence[Session], projects: Sequence[Project]) -> None:
        pass

    async def apply_embeddings(self, items: Sequence[Embedded]) -> int:
        return len(items)

    async def apply(self, changes: Sequence[Change]) -> list[ApplyOutcome]:
        for change in changes:
            self.heads[change.memory.id] = change.memory
        return [
            ApplyOutcome(c.memory.id, c.memory.event_id or UUID(int=0), True, "r", 1, "e")
            for c in changes
        ]


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def service(store: LocalStore, clock: Clock) -> MemoryService:
    return MemoryService(store, clock=clock)


def remember(service: MemoryService, count: int) -> list[UUID]:
    return [
        service.remember({"content": f"decision {i}", "tags": ["t", str(i)]}).id
        for i in range(count)
    ]


def forget(service: MemoryService, ids: Sequence[UUID]) -> None:
    for memory_id in ids:
        service.forget(memory_id)


def drain(store: LocalStore, replica: ScriptedReplica, clock: Clock) -> None:
    drainer = Replicator(store, replica, origin="unit", clock=clock, rng=random.Random(1))  # type: ignore[arg-type]
    asyncio.run(drainer.run_once())


def held(store: LocalStore) -> list[str]:
    return [str(item.memory_id) for item in store.outbox.held()]


# -- thresholds ------------------------------------------------------------------------------------


def test_one_delete_more_than_the_threshold_raises_one_alert_naming_every_memory(
    service: MemoryService, store: LocalStore
) -> None:
    ids = remember(service, 12)
    forget(service, ids[:10])  # exactly the threshold: no burst
    assert store.alerts.all() == []
    assert held(store) == []

    forget(service, ids[10:11])
    [alert] = store.alerts.all()
    assert (alert.kind, alert.state, alert.created_at) == (AlertKind.DELETE_BURST, "open", T0)
    assert alert.evidence["memory_ids"] == [str(i) for i in ids[:11]]
    assert (alert.evidence["deletes"], alert.evidence["threshold"]) == (11, 10)
    assert held(store) == [str(i) for i in ids[:11]]

    # A later delete while the alert is open is held too, and joins the evidence.
    forget(service, ids[11:])
    [alert] = store.alerts.all()
    assert alert.evidence["memory_ids"] == [str(i) for i in ids]
    assert store.quarantine.held_ids(hold_reason(alert)) == [str(i) for i in ids]


def test_deletes_spread_over_more_than_the_window_are_no_burst(
    service: MemoryService, store: LocalStore, clock: Clock
) -> None:
    ids = remember(service, 20)
    forget(service, ids[:10])
    clock.advance(61)
    forget(service, ids[10:])
    assert store.alerts.all() == []
    assert held(store) == []


def test_deletes_after_the_window_are_held_and_named_while_the_alert_is_open(
    service: MemoryService, store: LocalStore, clock: Clock
) -> None:
    ids = remember(service, 23)
    forget(service, ids[:11])
    clock.advance(600)
    forget(service, ids[11:12])  # alone in its window: held by the open alert all the same
    clock.advance(600)
    forget(service, ids[12:])  # another burst while the first is open: the same alert
    [alert] = store.alerts.all()
    due = store.outbox.claim_due(clock.now + timedelta(days=1), 100)
    assert [i for i in due if i.operation == Operation.DELETE] == []
    assert store.quarantine.held_ids(hold_reason(alert)) == [str(i) for i in ids]
    assert alert.evidence["memory_ids"] == [str(i) for i in ids]
    assert alert.evidence["deletes"] == 23


def test_a_custom_policy_is_honoured(store: LocalStore, clock: Clock) -> None:
    policy = DetectionPolicy(delete_burst_count=3, window=timedelta(seconds=5))
    service = MemoryService(store, clock=clock, detection=policy)
    store.delete_delay = policy.window  # as runtime.open_service sets it
    ids = remember(service, 10)
    forget(service, ids[:3])
    clock.advance(6)
    drain(store, ScriptedReplica(), clock)  # the first three waited out the window and left
    forget(service, ids[3:6])
    assert store.alerts.all() == []
    forget(service, ids[6:7])
    [alert] = store.alerts.all()
    assert alert.evidence == {
        "deletes": 4,
        "window_s": 5.0,
        "threshold": 3,
        "memory_ids": [str(i) for i in ids[3:7]],
    }


# -- deletes wait out the window in the outbox ----------------------------------------------------


def test_deletes_wait_the_delete_delay_and_held_ones_wait_for_a_person(
    service: MemoryService, store: LocalStore, clock: Clock
) -> None:
    store.delete_delay = timedelta(seconds=60)
    _, updated, deleted = remember(service, 3)
    drain(store, ScriptedReplica(), clock)
    service.update(updated, {"content": "changed"})
    service.forget(deleted)
    service.remember({"content": "new"})

    due = [(i.operation, i.memory_id) for i in store.outbox.claim_due(clock.now, 100)]
    assert (Operation.UPDATE, updated) in due
    assert [op for op, _ in due] == [Operation.UPDATE, Operation.CREATE]
    almost = store.outbox.claim_due(clock.now + timedelta(seconds=59), 100)
    assert deleted not in [i.memory_id for i in almost]
    later = store.outbox.claim_due(clock.now + timedelta(seconds=60), 100)
    assert (Operation.DELETE, deleted) in [(i.operation, i.memory_id) for i in later]

    store.outbox.hold(Operation.DELETE, "test-hold")
    assert all(i.operation != "delete" for i in store.outbox.claim_due(T0 + timedelta(days=9), 9))
    assert store.quarantine.release("test-hold") == 1
    assert deleted in [i.memory_id for i in store.outbox.claim_due(clock.now, 100)]


# -- revert ----------------------------------------------------------------------------------------


def test_revert_restores_the_exact_version_before_each_delete(
    service: MemoryService, store: LocalStore, clock: Clock
) -> None:
    ids = remember(service, 11)
    twice, waiting, embedded = ids[0], ids[1], ids[2]
    clock.advance(1)
    service.update(twice, {"content": "first change", "tags": ["a"]})
    service.update(twice, {"content": "second change", "tags": ["b"]})
    [version] = [v for v in store.versions(embedded) if v.sync_version == 1]
    store.embeddings.store([Embedded(str(embedded), str(version.event_id), [0.5, 0.25], "m")])
    drain(store, ScriptedReplica(), clock)
    service.update(waiting, {"importance": 0.9})  # not replicated yet: it still waits
    before = {i: store.get(i) for i in ids}
    clock.advance(1)
    forget(service, ids)
    [alert] = store.alerts.all()

    decision = service.alerts.revert(str(alert.id))

    assert decision.memories == [str(i) for i in ids]
    assert decision.state == "reverted"
    for memory_id in ids:
        back, old = store.get(memory_id), before[memory_id]
        assert back is not None
        assert old is not None
        assert back.deleted_at is None
        assert (back.content, back.tags, back.sync_version, back.event_id) == (
            old.content,
            old.tags,
            old.sync_version,
            old.event_id,
        )
        assert back.embedding == old.embedding
        assert [v.deleted_at for v in store.versions(memory_id)] == [None] * old.sync_version
        expected = SyncStatus.PENDING if memory_id == waiting else SyncStatus.SYNCED
        assert back.sync_status == expected
    restored = store.get(twice)
    assert restored is not None
    assert (restored.content, restored.tags, restored.sync_version) == ("second change", ["b"], 3)
    assert store.get(embedded).embedding == [0.5, 0.25]  # type: ignore[union-attr]
    assert [
        (i.operation, i.memory_id) for i in store.outbox.claim_due(T0 + timedelta(days=9), 99)
    ] == [(Operation.UPDATE, waiting)]
    assert store.alerts.all()[0].state == AlertState.REVERTED
    assert store.alerts.all()[0].closed_at == clock.now

    # The hold switch is off: a new delete waits only for the delay.
    service.forget(ids[3])
    assert held(store) == []
    with pytest.raises(InvalidInputError, match="already reverted"):
        service.alerts.revert(str(alert.id))


def test_revert_refuses_other_kinds_and_unknown_ids(service: MemoryService) -> None:
    update_alert = service.detector.raise_alert(AlertKind.MASS_UPDATE, {"updated": 9})
    with pytest.raises(InvalidInputError, match="holds no deletes"):
        service.alerts.revert(str(update_alert.id))
    with pytest.raises(NotFoundError):
        service.alerts.revert("0badc0de-0000-4000-8000-000000000000")
    prefix = str(update_alert.id)
    assert service.alerts.get(prefix[:8]).id == update_alert.id
    with pytest.raises(NotFoundError):
        service.alerts.get(prefix[:7])


# -- acknowledge -----------------------------------------------------------------------------------


def test_acknowledge_lets_the_held_deletes_replicate(
    service: MemoryService, store: LocalStore, clock: Clock
) -> None:
    store.delete_delay = timedelta(seconds=60)
    replica = ScriptedReplica()
    ids = remember(service, 11)
    drain(store, replica, clock)
    forget(service, ids)
    drain(store, replica, clock)
    assert all(replica.heads[i].deleted_at is None for i in ids)
    [alert] = store.alerts.all()

    clock.advance(1)
    decision = service.alerts.acknowledge(str(alert.id)[:8])

    assert decision.memories == [str(i) for i in ids]
    due = store.outbox.claim_due(clock.now, 100)  # at once: the delete delay is waived
    assert [(i.memory_id, i.next_retry_at) for i in due] == [(i, None) for i in ids]
    drain(store, replica, clock)
    assert all(replica.heads[i].deleted_at is not None for i in ids)
    assert store.outbox_size() == 0
    [closed] = store.alerts.all()
    assert (closed.state, closed.closed_at) == (AlertState.ACKNOWLEDGED, clock.now)
    with pytest.raises(InvalidInputError, match="already acknowledged"):
        service.alerts.acknowledge(str(alert.id))


# -- mass updates and the replica's count ---------------------------------------------------------


def test_an_update_of_more_than_half_the_memories_raises_one_alert(
    service: MemoryService, store: LocalStore
) -> None:
    ids = remember(service, 20)
    for memory_id in ids[:10]:  # exactly half
        service.update(memory_id, {"importance": 0.9})
    assert store.alerts.all() == []
    for memory_id in ids[10:12]:
        service.update(memory_id, {"importance": 0.9})
    [alert] = store.alerts.all()
    assert alert.kind == AlertKind.MASS_UPDATE
    assert (alert.evidence["updated"], alert.evidence["memories"]) == (12, 20)
    assert held(store) == []  # updates are reported, not held


def test_a_small_store_never_raises_a_mass_update_alert(
    service: MemoryService, store: LocalStore
) -> None:
    for memory_id in remember(service, 9):
        service.update(memory_id, {"content": "all of them"})
    assert store.alerts.all() == []


def test_far_fewer_memories_than_the_replica_alerts_once(service: MemoryService) -> None:
    detector = service.detector
    assert detector.compare_with_remote(0, 9) is None  # too small a replica to judge
    assert detector.compare_with_remote(5, 10) is None  # exactly half
    alert = detector.compare_with_remote(4, 10)
    assert alert is not None
    assert alert.evidence == {"local": 4, "remote": 10, "threshold": 0.5}
    assert detector.compare_with_remote(0, 100) is None
    assert [a.id for a in service.alerts.all()] == [alert.id]


# -- who did it ------------------------------------------------------------------------------------


def test_the_alert_names_the_agent_session_and_tool(store: LocalStore, clock: Clock) -> None:
    service = MemoryService(store, clock=clock, tool="cli")
    service.start_session({"session_id": "s-42", "agent": "codex"})
    forget(service, remember(service, 11))
    [alert] = store.alerts.all()
    assert (alert.agent, alert.session_id, alert.tool) == ("codex", "s-42", "cli")
