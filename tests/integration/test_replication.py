"""Replication stories against the real Neo4j: local first, then every version on the replica."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from memvault.config import Settings
from memvault.models import Memory, Operation, SyncStatus
from memvault.remote.neo4j import Neo4jReplica
from memvault.remote.protocol import Change
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.sync.replicator import Replicator

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import Neo4jServer, free_port, query, with_replica


def remote_counts(settings: Settings) -> tuple[int, int, int]:
    """(memories, distinct memory ids, versions) on the replica."""
    row = query(
        settings,
        "MATCH (m:Memory) WHERE m.sync_version > 0 "
        "OPTIONAL MATCH (m)-[:HAS_VERSION]->(v) "
        "RETURN count(DISTINCT m) AS n, count(DISTINCT m.id) AS ids, count(v) AS versions",
    )[0]
    return row["n"], row["ids"], row["versions"]


def test_a_memory_written_locally_reaches_neo4j_within_seconds(
    memvault_server: MemvaultServer, tmp_path: Path
) -> None:
    server = memvault_server
    created = httpx.post(
        f"{server.url}/api/memories",
        json={"content": "Deploys go through the blue/green switch", "project_id": "ops"},
    )
    assert created.status_code == 201
    memory_id = created.json()["id"]
    settings = server.neo4j.settings(tmp_path)

    wait_for(
        lambda: bool(query(settings, "MATCH (m:Memory {id: $id}) RETURN m.id", id=memory_id)),
        timeout=10,
        what="the memory on the replica",
    )
    node = query(settings, "MATCH (m:Memory {id: $id}) RETURN m {.*} AS m", id=memory_id)[0]["m"]
    assert node["content"] == "Deploys go through the blue/green switch"
    assert node["sync_version"] == 1
    # Locally it is marked synced once the replica committed it.
    wait_for(
        lambda: (
            httpx.get(f"{server.url}/api/memories/{memory_id}").json()["sync_status"] == "synced"
        ),
        timeout=10,
        what="the local copy marked synced",
    )
    # The drain left a parseable JSON log line with the SyncEvent fields.
    lines = [json.loads(line) for line in server.logs().splitlines() if line.startswith("{")]
    pushes = [line for line in lines if line.get("operation") == "push"]
    assert pushes, server.logs()
    assert {"direction", "result", "count", "duration_ms", "retries", "memory_ids"} <= set(
        pushes[0]
    )
    assert memory_id in {i for line in pushes for i in line["memory_ids"]}


def test_writes_succeed_while_neo4j_is_down_and_drain_when_it_returns(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    store = LocalStore.open(settings.store_path)
    service = MemoryService(store)
    empty_replica.control("stop")
    try:
        ids = [
            service.remember({"content": f"written while the replica is down {i}"}).id
            for i in range(30)
        ]
        service.update(ids[0], {"content": "changed while down"})
        service.forget(ids[1])

        async def drain_while_down(replica: Neo4jReplica) -> str | None:
            report = await Replicator(store, replica, origin="test").run_once()
            return report.error

        error = with_replica(settings, drain_while_down)
        assert error is not None
        assert "unreachable" in error
        assert store.outbox_size() == 32  # nothing lost, nothing sent
        queued = store.get(ids[2])
        assert queued is not None
        assert queued.sync_status == SyncStatus.QUEUED
        assert store.outbox.counts(queued.updated_at).retrying == 32
    finally:
        empty_replica.control("start")

    async def drain_now(replica: Neo4jReplica) -> None:
        # The backoff scheduled the retries in the future; a clock past the cap makes them due.
        later = Replicator(
            store, replica, origin="test", clock=lambda: queued.updated_at.replace(year=2100)
        )
        report = await later.run_once()
        assert report.error is None

    with_replica(settings, drain_now)
    assert store.outbox_size() == 0
    assert remote_counts(settings) == (30, 30, 32)
    heads = query(settings, "MATCH (m:Memory {id: $id}) RETURN m.content AS c", id=str(ids[0]))
    assert heads == [{"c": "changed while down"}]
    store.close()


def test_sigkill_in_the_middle_of_a_drain_loses_and_duplicates_nothing(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    settings = empty_replica.settings(home)
    store = LocalStore.open(settings.store_path)
    service = MemoryService(store)
    total = 20_000
    for i in range(total):
        service.remember({"content": f"backlog memory {i}", "project_id": f"p{i % 4}"})
    store.close()

    server = MemvaultServer(home=home, neo4j=empty_replica)
    server.start()
    try:
        wait_for(lambda: remote_counts(settings)[0] > 0, timeout=60, what="the drain to start")
        server.kill()
        sent_before_kill = remote_counts(settings)[0]
        assert 0 < sent_before_kill < total, "kill the drain in the middle, not before or after"

        server.start()
        wait_for(lambda: remote_counts(settings)[0] == total, timeout=120, what="the drain")
    finally:
        server.stop()
    memories, distinct_ids, versions = remote_counts(settings)
    assert (memories, distinct_ids, versions) == (total, total, total)
    reopened = LocalStore.open(settings.store_path)
    wait_for(lambda: reopened.outbox_size() == 0, timeout=30, what="an empty outbox")
    reopened.close()


def test_a_replayed_change_and_an_older_version_change_nothing(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    store = LocalStore.open(settings.store_path)
    service = MemoryService(store)
    first = service.remember({"content": "version one"})
    second = service.update(first.id, {"content": "version two"})

    async def scenario(replica: Neo4jReplica) -> list[bool]:
        applied = []
        for memory, operation in (
            (first, Operation.CREATE),
            (second, Operation.UPDATE),
            (second, Operation.UPDATE),  # the same change again
            (first, Operation.CREATE),  # an older version after a newer one
        ):
            outcomes = await replica.apply([Change(operation, memory, "test")])
            applied.append(outcomes[0].applied)
        return applied

    assert with_replica(settings, scenario) == [True, True, False, False]
    head = query(settings, "MATCH (m:Memory {id: $id}) RETURN m {.*} AS m", id=str(first.id))
    assert head[0]["m"]["content"] == "version two"
    assert head[0]["m"]["sync_version"] == 2
    assert remote_counts(settings) == (1, 1, 2)  # both versions in history, once each
    store.close()


def test_replication_of_a_memory_keeps_every_field(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    store = LocalStore.open(settings.store_path)
    service = MemoryService(store)
    memory = service.remember(
        {
            "content": "Prefer composition over inheritance in the sync layer",
            "memory_type": "strategic",
            "importance": 0.9,
            "tags": ["design", "sync"],
            "project_id": "memvault",
            "session_id": "s-1",
            "task_id": "t-42",
            "scope": "global",
            "source": "claude-code",
        }
    )

    async def push(replica: Neo4jReplica) -> None:
        await Replicator(store, replica, origin="test").run_once()

    with_replica(settings, push)
    node = query(settings, "MATCH (m:Memory {id: $id}) RETURN m {.*} AS m", id=str(memory.id))
    copy = Memory.model_validate(
        {k: v for k, v in node[0]["m"].items() if k in Memory.model_fields}
    )
    assert copy.model_dump(exclude={"sync_status"}) == memory.model_dump(exclude={"sync_status"})
    links = query(
        settings,
        "MATCH (m:Memory {id: $id}) "
        "MATCH (m)-[:BELONGS_TO]->(s:Session)-[:PART_OF]->(p:Project)<-[:TAGGED_WITH]-(m) "
        "MATCH (m)-[:FOR_TASK]->(t:Task) RETURN s.id AS s, p.id AS p, t.id AS t",
        id=str(memory.id),
    )
    assert links == [{"s": "s-1", "p": "memvault", "t": "t-42"}]
    store.close()


def test_unreachable_neo4j_port_reports_unavailable(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=tmp_path,
        neo4j_uri=f"bolt://127.0.0.1:{free_port()}",
        neo4j_password="whatever-password",
    )
    store = LocalStore.open(settings.store_path)
    MemoryService(store).remember({"content": "kept locally"})

    async def drain(replica: Neo4jReplica) -> str | None:
        return (await Replicator(store, replica, origin="t").run_once()).error

    assert with_replica(settings, drain) is not None
    assert store.outbox_size() == 1
    events = store.synclog.events(limit=5)
    assert events
    assert events[0].result == "failed"
    assert events[0].error
    store.close()
