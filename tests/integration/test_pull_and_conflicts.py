"""Two machines (two SQLite stores) sharing one real Neo4j: pull brings each the other's changes,
and concurrent edits converge on the last write with a recorded conflict."""

from __future__ import annotations

import io
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog

from manual_clock import ManualClock as Clock
from memvault.config import Settings
from memvault.errors import InvalidInputError, NotFoundError, UnavailableError
from memvault.models import (
    Memory,
    MemoryFilter,
    MemoryType,
    Operation,
    Scope,
    SyncDirection,
    SyncResult,
    SyncStatus,
    content_hash,
)
from memvault.remote.neo4j import Neo4jReplica
from memvault.remote.protocol import Change
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.store.local import PulledWrite
from memvault.sync.audit import configure_logging
from memvault.sync.conflicts import list_conflicts, resolve_conflicts
from memvault.sync.pull import CURSOR_KEY, PullReport, pull_cursor, pull_once
from memvault.sync.replicator import DrainReport, Replicator

from .neo4j_server import Neo4jServer, free_port, with_replica

BOOKKEEPING = {"sync_status", "synced_at", "remote_id"}  # each store's own view of syncing


@dataclass
class Machine:
    """One agent machine: its own store and service, pushing and pulling through the replica."""

    name: str
    store: LocalStore
    service: MemoryService
    clock: Clock

    async def push(self, replica: Neo4jReplica) -> DrainReport:
        replicator = Replicator(self.store, replica, origin=self.name, clock=self.clock)
        report = await replicator.run_once()
        assert (report.error, report.rejected) == (None, 0), report
        return report

    async def pull(self, replica: Neo4jReplica, batch_size: int = 1000) -> PullReport:
        return await pull_once(self.store, replica, clock=self.clock, batch_size=batch_size)

    def current(self, memory_id: UUID) -> Memory:
        memory = self.store.get(memory_id)
        assert memory is not None, f"{self.name} does not hold {memory_id}"
        return memory


@pytest.fixture
def settings(empty_replica: Neo4jServer, tmp_path: Path) -> Settings:
    return empty_replica.settings(tmp_path / "home")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 3, 1, 9, 0, tzinfo=UTC))


def open_machine(name: str, root: Path, clock: Clock) -> Machine:
    store = LocalStore.open(root / name / "memvault.db")
    return Machine(name, store, MemoryService(store, clock=clock), clock)


@pytest.fixture
def machines(tmp_path: Path, clock: Clock) -> Iterator[tuple[Machine, Machine]]:
    a, b = open_machine("machine-a", tmp_path, clock), open_machine("machine-b", tmp_path, clock)
    yield a, b
    a.store.close()
    b.store.close()


@pytest.fixture
def sync_log() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON log lines of sync operations, as parsed objects."""
    stream = io.StringIO()
    configure_logging("INFO", stream)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    structlog.reset_defaults()


def rich_memory(clock: Clock) -> Memory:
    """A memory with every optional field set, an embedding included."""
    content = "MERGE in Neo4j needs a uniqueness constraint, or concurrent writers duplicate nodes"
    vector = [round(math.sin(i) * 0.5, 6) for i in range(384)]
    return Memory(
        id=uuid4(),
        content=content,
        memory_type=MemoryType.PROCEDURAL,
        importance=0.875,
        tags=["neo4j", "merge", "concurrency"],
        project_id="memvault",
        session_id="session-42",
        task_id="task-7",
        scope=Scope.GLOBAL,
        source="claude-code",
        created_at=clock(),
        updated_at=clock(),
        sync_version=1,
        event_id=uuid4(),
        content_hash=content_hash(content),
        embedding=vector,
        embedding_model="all-MiniLM-L6-v2",
        embedding_dim=len(vector),
    )


def content_fields(memory: Memory) -> dict[str, Any]:
    return memory.model_dump(exclude=BOOKKEEPING)


def test_a_memory_made_on_one_machine_arrives_on_the_other_with_every_field(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock, sync_log: Any
) -> None:
    a, b = machines
    memory = rich_memory(clock)
    a.store.create(memory)

    async def scenario(replica: Neo4jReplica) -> tuple[PullReport, PullReport]:
        await a.push(replica)
        clock.advance(1)
        first = await b.pull(replica)
        clock.advance(1)
        second = await b.pull(replica)
        return first, second

    first, second = with_replica(settings, scenario)
    first_pull_at = clock.now - timedelta(seconds=1)

    # 1. The memory is on B, every field equal to A's copy, embedding included.
    assert (first.pulled, first.inserted, first.updated, first.conflicts) == (1, 1, 0, 0)
    arrived = b.current(memory.id)
    assert content_fields(arrived) == content_fields(a.current(memory.id))
    assert len(arrived.embedding or []) == 384
    assert (arrived.sync_status, arrived.synced_at) == (SyncStatus.SYNCED, first_pull_at)
    # 2. It is found by B's own search and kept in B's history, and nothing waits to go back.
    assert [hit.memory.id for hit in b.service.search("uniqueness constraint")] == [memory.id]
    assert [v.event_id for v in b.store.versions(memory.id)] == [memory.event_id]
    assert b.store.outbox_size() == 0
    # 3. Pull is incremental: the second pull finds nothing after the cursor.
    assert (second.pulled, second.cursor) == (0, first.cursor)
    assert first.cursor > 0
    # 4. Each pull left one audit row and one JSON log line.
    events = b.store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL)
    assert [(e.result, e.count) for e in events] == [
        (SyncResult.SUCCESS, 0),  # newest first
        (SyncResult.SUCCESS, 1),
    ]
    assert events[1].memory_ids == [memory.id]
    pulls = [line for line in sync_log() if line["operation"] == "pull"]
    assert [(line["pulled"], line["inserted"], line["result"]) for line in pulls] == [
        (1, 1, "success"),
        (0, 0, "success"),
    ]


def test_updates_and_tombstones_follow_and_history_is_kept(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock
) -> None:
    a, b = machines
    created = a.service.remember({"content": "Backups run at 02:00", "project_id": "ops"})

    async def scenario(replica: Neo4jReplica) -> list[PullReport]:
        reports = []
        await a.push(replica)
        reports.append(await b.pull(replica))
        clock.advance(1)
        a.service.update(created.id, {"content": "Backups run at 03:00", "importance": 0.9})
        await a.push(replica)
        reports.append(await b.pull(replica))
        clock.advance(1)
        a.service.forget(created.id)
        await a.push(replica)
        reports.append(await b.pull(replica))
        return reports

    inserted, updated, tombstoned = with_replica(settings, scenario)

    assert (inserted.inserted, updated.updated, tombstoned.updated) == (1, 1, 1)
    on_b = b.current(created.id)
    assert content_fields(on_b) == content_fields(a.current(created.id))
    assert (on_b.content, on_b.importance) == ("Backups run at 03:00", 0.9)
    # The tombstone arrived as a tombstone: the row is kept, marked deleted, hidden from lists.
    assert (on_b.deleted_at, on_b.sync_version) == (clock(), 3)
    assert b.service.list({"project_id": "ops"}) == []
    assert [m.id for m in b.store.list(MemoryFilter(include_deleted=True))] == [created.id]
    assert [v.sync_version for v in b.store.versions(created.id)] == [1, 2, 3]
    assert b.store.outbox_size() == 0


def test_pull_is_idempotent_paged_and_its_cursor_survives_reopening(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock, tmp_path: Path
) -> None:
    a, _ = machines
    b = open_machine("machine-c", tmp_path, clock)
    ids = [a.service.remember({"content": f"fact number {n}"}).id for n in range(5)]

    async def scenario(replica: Neo4jReplica) -> PullReport:
        await a.push(replica)
        return await b.pull(replica, batch_size=2)  # three pages

    first = with_replica(settings, scenario)
    assert (first.pulled, first.inserted) == (5, 5)
    before = {i: b.current(i) for i in ids}
    b.store.close()

    # The cursor is in the store file: a reopened store pulls nothing new.
    reopened = open_machine("machine-c", tmp_path, clock)
    try:
        assert pull_cursor(reopened.store) == first.cursor
        clock.advance(1)
        again = with_replica(settings, reopened.pull)
        assert (again.pulled, again.cursor) == (0, first.cursor)

        # Pulling everything again from the start changes nothing: every version is the same.
        reopened.store.synclog.set_state(CURSOR_KEY, "0", clock())
        replay = with_replica(settings, reopened.pull)
        assert (replay.pulled, replay.unchanged, replay.inserted, replay.updated) == (5, 5, 0, 0)
        assert (replay.conflicts, replay.cursor) == (0, first.cursor)
        assert {i: reopened.current(i) for i in ids} == before
        assert list_conflicts(reopened.store) == []
    finally:
        reopened.store.close()


@pytest.mark.parametrize("first_to_push", ["loser", "winner"])
def test_concurrent_edits_converge_on_the_last_write_and_the_loser_records_the_conflict(
    settings: Settings,
    machines: tuple[Machine, Machine],
    clock: Clock,
    sync_log: Any,
    first_to_push: str,
) -> None:
    a, b = machines
    original = a.service.remember({"content": "The replica runs Neo4j 5.26", "project_id": "mv"})

    async def setup(replica: Neo4jReplica) -> None:
        await a.push(replica)
        await b.pull(replica)

    with_replica(settings, setup)

    # 1. Both machines edit version 1; B edits later, so B's version 2 wins everywhere.
    clock.advance(1)
    a_v2 = a.service.update(original.id, {"content": "The replica runs Neo4j 5.26 Community"})
    clock.advance(1)
    b_v2 = b.service.update(original.id, {"content": "The replica runs Neo4j 5.26 on a VPS"})
    assert a_v2.sync_version == b_v2.sync_version == 2
    assert b_v2.version_key() > a_v2.version_key()

    async def converge(replica: Neo4jReplica) -> tuple[PullReport, PullReport, list[Memory]]:
        for machine in (a, b) if first_to_push == "loser" else (b, a):
            await machine.push(replica)
        clock.advance(1)
        on_a, on_b = await a.pull(replica), await b.pull(replica)
        return on_a, on_b, await replica.export_versions([str(original.id)])

    pulled_a, pulled_b, history = with_replica(settings, converge)

    # 2. Both stores hold B's version; the replica's history holds both edits.
    assert (pulled_a.updated, pulled_a.conflicts) == (1, 1)
    assert (pulled_b.unchanged, pulled_b.conflicts) == (1, 0)
    assert content_fields(a.current(original.id)) == content_fields(b.current(original.id))
    assert a.current(original.id).event_id == b_v2.event_id
    assert {v.event_id for v in history} == {original.event_id, a_v2.event_id, b_v2.event_id}
    assert {a_v2.event_id, b_v2.event_id} <= {v.event_id for v in a.store.versions(original.id)}

    # 3. The loser (A) recorded the conflict with both versions and the winner, and is marked.
    [conflict] = list_conflicts(a.store)
    assert (conflict.winner, conflict.memory_id) == ("remote", original.id)
    assert (conflict.local.event_id, conflict.local.content) == (a_v2.event_id, a_v2.content)
    assert (conflict.remote.event_id, conflict.remote.content) == (b_v2.event_id, b_v2.content)
    assert a.current(original.id).sync_status is SyncStatus.CONFLICT
    assert list_conflicts(b.store) == []
    assert b.current(original.id).sync_status is SyncStatus.SYNCED

    # 4. The conflict is a sync operation of its own: one log line with both versions.
    [line] = [line for line in sync_log() if line["operation"] == "conflict"]
    assert (line["winner"], line["memory_ids"]) == ("remote", [str(original.id)])
    assert {"id", "direction", "result", "count", "duration_ms", "retries", "error"} <= set(line)
    assert (line["level"], line["direction"], line["count"]) == ("warning", "remote_to_local", 1)
    for side, version in (("local", a_v2), ("remote", b_v2)):
        assert line[side] == {
            "sync_version": 2,
            "updated_at": version.updated_at.isoformat(),
            "event_id": str(version.event_id),
            "content_hash": version.content_hash,
        }

    # 5. The mark stays until someone resolves it; then the memory reports its real state.
    assert with_replica(settings, a.pull).pulled == 0
    assert a.current(original.id).sync_status is SyncStatus.CONFLICT
    assert resolve_conflicts(a.store, str(original.id), clock=clock) == 1
    assert a.current(original.id).sync_status is SyncStatus.SYNCED
    assert list_conflicts(a.store) == []
    assert list_conflicts(a.store, include_resolved=True)[0].resolved_at == clock()

    # 6. Editing on from the winner is a plain update for the other machine: no new conflict.
    clock.advance(1)
    a_v3 = a.service.update(original.id, {"tags": ["neo4j"]})

    async def follow(replica: Neo4jReplica) -> PullReport:
        await a.push(replica)
        return await b.pull(replica)

    followed = with_replica(settings, follow)
    assert (followed.updated, followed.conflicts) == (1, 0)
    assert b.current(original.id).event_id == a_v3.event_id
    assert b.current(original.id).sync_status is SyncStatus.SYNCED


def test_a_winning_edit_not_yet_pushed_records_the_losing_one_and_then_wins_everywhere(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock
) -> None:
    a, b = machines
    original = a.service.remember({"content": "Deploys happen on Tuesdays"})

    async def scenario(replica: Neo4jReplica) -> tuple[PullReport, PullReport]:
        await a.push(replica)
        await b.pull(replica)
        clock.advance(1)
        a.service.update(original.id, {"content": "Deploys happen on Wednesdays"})
        clock.advance(1)
        b.service.update(original.id, {"content": "Deploys happen on Thursdays"})
        await a.push(replica)
        # B pulls before pushing: the replica's head (A's edit) loses to B's pending edit.
        on_b = await b.pull(replica)
        await b.push(replica)
        return on_b, await a.pull(replica)

    on_b, on_a = with_replica(settings, scenario)

    assert (on_b.unchanged, on_b.conflicts) == (1, 1)
    assert (on_a.updated, on_a.conflicts) == (1, 1)
    for machine in (a, b):
        assert machine.current(original.id).content == "Deploys happen on Thursdays"
        assert machine.current(original.id).sync_status is SyncStatus.CONFLICT
    [b_conflict] = list_conflicts(b.store)
    assert b_conflict.winner == "local"
    assert b_conflict.remote.content == "Deploys happen on Wednesdays"
    [a_conflict] = list_conflicts(a.store)
    assert a_conflict.winner == "remote"
    assert a_conflict.local.content == "Deploys happen on Wednesdays"
    assert b.store.outbox_size() == 0


def test_edits_at_the_same_instant_are_ordered_by_event_id_on_every_machine(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock
) -> None:
    a, b = machines
    original = a.service.remember({"content": "Standup at 10:00"})

    async def setup(replica: Neo4jReplica) -> None:
        await a.push(replica)
        await b.pull(replica)

    with_replica(settings, setup)
    clock.advance(1)
    a_v2 = a.service.update(original.id, {"content": "Standup at 10:30"})
    b_v2 = b.service.update(original.id, {"content": "Standup at 09:30"})
    assert a_v2.updated_at == b_v2.updated_at  # a tie on version and time
    winner, loser = sorted((a_v2, b_v2), key=Memory.version_key, reverse=True)
    losing_machine = a if loser is a_v2 else b

    async def converge(replica: Neo4jReplica) -> None:
        await a.push(replica)
        await b.push(replica)
        await a.pull(replica)
        await b.pull(replica)

    with_replica(settings, converge)

    assert a.current(original.id).event_id == b.current(original.id).event_id == winner.event_id
    [conflict] = list_conflicts(losing_machine.store)
    assert (conflict.local.event_id, conflict.remote.event_id) == (loser.event_id, winner.event_id)
    assert list_conflicts((b if losing_machine is a else a).store) == []


def test_an_older_version_arriving_after_a_newer_one_changes_nothing(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock
) -> None:
    a, b = machines
    v1 = a.service.remember({"content": "Retries use full jitter"})
    clock.advance(1)
    v2 = a.service.update(v1.id, {"content": "Retries use full jitter, capped at 60 s"})

    async def scenario(replica: Neo4jReplica) -> tuple[PullReport, PullReport, PullReport]:
        await a.push(replica)
        await b.pull(replica)
        # 1. The replica is sent version 1 again, after version 2: its head does not move.
        [outcome] = await replica.apply([Change(Operation.CREATE, v1, "machine-a")])
        assert (outcome.applied, outcome.head_event_id) == (False, str(v2.event_id))
        after_replay = await b.pull(replica)
        # 2. B holds a newer, unsent version 3 and pulls everything from the start: the replica's
        # version 2 is older and known, so B keeps its own without calling it a conflict.
        clock.advance(1)
        b.service.update(v1.id, {"importance": 0.2})
        b.store.synclog.set_state(CURSOR_KEY, "0", clock())
        stale = await b.pull(replica)
        return after_replay, stale, await b.pull(replica)

    after_replay, stale, again = with_replica(settings, scenario)

    assert after_replay.pulled == 0
    assert (stale.pulled, stale.unchanged, stale.updated, stale.conflicts) == (1, 1, 0, 0)
    assert again.pulled == 0
    on_b = b.current(v1.id)
    assert (on_b.sync_version, on_b.importance) == (3, 0.2)
    assert on_b.sync_status is SyncStatus.PENDING
    assert b.store.outbox_size() == 1
    assert list_conflicts(b.store) == []


def test_an_unreachable_replica_fails_the_pull_with_an_audit_row_and_moves_nothing(
    settings: Settings, machines: tuple[Machine, Machine], clock: Clock
) -> None:
    _, b = machines
    b.store.synclog.set_state(CURSOR_KEY, "7", clock())
    nowhere = settings.model_copy(update={"neo4j_uri": f"bolt://127.0.0.1:{free_port()}"})

    with pytest.raises(UnavailableError, match="unreachable"):
        with_replica(nowhere, b.pull)

    [event] = b.store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL)
    assert (event.result, event.count) == (SyncResult.FAILED, 0)
    assert "unreachable" in (event.error or "")
    assert pull_cursor(b.store) == 7


def test_a_pull_decision_is_not_applied_over_a_local_edit_made_meanwhile(
    machines: tuple[Machine, Machine], clock: Clock
) -> None:
    a, _ = machines
    v1 = a.service.remember({"content": "Use WAL mode"})
    seen = (str(v1.event_id), v1.sync_status.value)
    remote = v1.model_copy(
        update={"content": "Use WAL mode!", "sync_version": 2, "event_id": uuid4()}
    )
    clock.advance(1)
    v2 = a.service.update(v1.id, {"content": "Use WAL mode and a busy timeout"})  # meanwhile

    skipped = a.store.put_pulled([PulledWrite(v1.id, seen, row=remote)], clock())

    assert skipped == [v1.id]
    assert a.current(v1.id).event_id == v2.event_id


def test_conflict_functions_name_bad_input_and_unknown_memories(
    machines: tuple[Machine, Machine], clock: Clock
) -> None:
    a, _ = machines
    with pytest.raises(InvalidInputError, match="not a valid UUID"):
        resolve_conflicts(a.store, "not-a-uuid", clock=clock)
    with pytest.raises(NotFoundError, match="not found"):
        resolve_conflicts(a.store, uuid4(), clock=clock)
    with pytest.raises(InvalidInputError, match="not a valid UUID"):
        list_conflicts(a.store, memory_id="nope")
    kept = a.service.remember({"content": "No conflict here"})
    assert resolve_conflicts(a.store, kept.id, clock=clock) == 0
    assert a.current(kept.id).sync_status is SyncStatus.PENDING
