"""Wipeout and recovery against the real Neo4j: write → replicate → destroy → recover → verify.

Every scenario writes through the real store and service, replicates with the real Replicator,
destroys real files, and recovers into a fresh SQLite store.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog

from memvault.config import Settings
from memvault.errors import UnavailableError
from memvault.models import (
    Memory,
    MemoryFilter,
    MemoryType,
    Operation,
    Scope,
    SyncDirection,
    SyncResult,
)
from memvault.remote.neo4j import Neo4jReplica
from memvault.safety.detector import DetectionPolicy
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.sync.recovery import RecoveryOptions, recover
from memvault.sync.replicator import Replicator
from memvault.sync.startup import StartupAction, StoreState, ensure_not_empty, store_state

from .neo4j_server import Neo4jServer, free_port, with_replica

T0 = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)
PROJECTS = ("alpha", "beta", "gamma")
SESSIONS = tuple(f"session-{k}" for k in range(5))  # session k belongs to PROJECTS[k % 3]
DIM = 384


class Ticker:
    """A clock that moves one millisecond each time it is read: times are distinct and known."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def step(number: int, text: str) -> None:
    print(f"step {number}: {text}")


def embed(store: LocalStore, clock: Ticker, memory_id: UUID, seed: int) -> Memory:
    """What an embedding provider does: store a vector as the memory's next version."""
    rng = random.Random(seed)
    vector = [rng.uniform(-1, 1) for _ in range(DIM)]

    def with_vector(current: Memory) -> Memory:
        return current.model_copy(
            update={
                "embedding": vector,
                "embedding_model": "all-MiniLM-L6-v2",
                "embedding_dim": DIM,
                "sync_version": current.sync_version + 1,
                "event_id": uuid4(),
                "updated_at": clock(),
            }
        )

    return store.mutate(memory_id, with_vector, Operation.UPDATE)


def remember(service: MemoryService, i: int, **extra: Any) -> Memory:
    session = i % len(SESSIONS)
    return service.remember(
        {
            "content": f"memory {i}: marker{i} decided on approach {i % 17}",
            "memory_type": list(MemoryType)[i % 4].value,
            "importance": (i % 10) / 10,
            "tags": [f"t{i % 4}", "wipeout"],
            "project_id": PROJECTS[session % 3],
            "session_id": SESSIONS[session],
            "task_id": f"task-{i % 7}" if i % 10 == 0 else None,
            "scope": Scope.GLOBAL.value if i % 50 == 0 else Scope.PROJECT.value,
            "source": "claude-code" if i % 2 else "codex",
            **extra,
        }
    )


def write_memories(service: MemoryService, clock: Ticker, count: int) -> list[UUID]:
    """Create `count` memories, then embed, update and forget some of them."""
    ids = [remember(service, i).id for i in range(count)]
    for i, memory_id in enumerate(ids):
        if i % 3 == 0:
            embed(service.store, clock, memory_id, seed=i)
        if i % 7 == 0:  # a new text drops the vector (when there was one)
            service.update(memory_id, {"content": f"memory {i} revised: marker{i} changed"})
        if i % 11 == 0:
            service.update(memory_id, {"importance": 0.95, "tags": ["revisited"]})
        if i % 13 == 0:
            service.forget(memory_id)
    return ids


async def replicate(store: LocalStore, replica: Neo4jReplica, clock: Ticker) -> None:
    await Replicator(store, replica, origin="machine-a", clock=clock).run_once()
    assert store.outbox_size() == 0


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return [tuple(row) for row in conn.execute(sql)]


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The store's content as raw SQLite values (bytes for vectors), minus local bookkeeping:
    `seq` (row order) and `synced_at` (when this copy last confirmed the replica)."""
    columns = [
        c[1] for c in rows(path, "PRAGMA table_info(memories)") if c[1] not in ("seq", "synced_at")
    ]
    return {
        "memories": rows(path, f"SELECT {', '.join(columns)} FROM memories ORDER BY id"),
        "versions": rows(path, "SELECT * FROM memory_versions ORDER BY 1, 2, 3"),
        "sessions": rows(path, "SELECT * FROM sessions ORDER BY id"),
        "projects": rows(path, "SELECT * FROM projects ORDER BY id"),
        "outbox": rows(path, "SELECT * FROM sync_queue"),
    }


def models(store: LocalStore, ids: list[UUID]) -> dict[UUID, Any]:
    """Every memory and its history as the service sees them (model_dump)."""
    out = {}
    for memory_id in ids:
        memory = store.get(memory_id)
        assert memory is not None, memory_id
        out[memory_id] = (
            memory.model_dump(exclude={"synced_at"}),
            [version.model_dump() for version in store.versions(memory_id)],
        )
    return out


def test_a_wiped_data_folder_is_rebuilt_byte_for_byte(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()

    async def story(replica: Neo4jReplica) -> None:
        step(1, "write 1,000 memories in 5 sessions of 3 projects; embed, update, forget")
        store = LocalStore.open(settings.store_path)
        # 77 deliberate forgets in a few simulated seconds: not a burst to quarantine here.
        deliberate = DetectionPolicy(delete_burst_count=10_000)
        ids = write_memories(MemoryService(store, clock=clock, detection=deliberate), clock, 1000)
        with_vectors = [i for i in ids if (m := store.get(i)) and m.embedding is not None]
        assert len(with_vectors) > 200
        assert store.stats().deleted == len(range(0, 1000, 13))

        step(2, "replicate everything to Neo4j")
        await replicate(store, replica, clock)
        before, before_models = snapshot(settings.store_path), models(store, ids)
        store.close()

        step(3, "destroy: delete the whole data folder")
        shutil.rmtree(settings.home)
        assert store_state(settings.store_path) is StoreState.MISSING

        step(4, "recover into a fresh store")
        store = LocalStore.open(settings.store_path)
        pages: list[tuple[int, int]] = []
        started = time.perf_counter()
        report = await recover(
            store,
            replica,
            RecoveryOptions(include_deleted=True),
            clock=clock,
            progress=lambda done, total: pages.append((done, total)),
        )
        elapsed = time.perf_counter() - started
        print(f"recovery of 1,000 memories (verified): {elapsed:.3f} s")
        assert (report.recovered, report.skipped, report.conflicts) == (1000, 0, 0)
        assert pages == [(0, 1000), (1000, 1000)]

        step(5, "compare every field of every memory, the history, sessions and projects")
        after = snapshot(settings.store_path)
        for table in before:
            assert after[table] == before[table], f"{table} differs after recovery"
        assert models(store, ids) == before_models
        recovered = [store.get(i) for i in ids]
        assert all(m is not None and m.synced_at is not None for m in recovered)
        hits = store.search("marker421", MemoryFilter(include_deleted=True))
        assert [hit.memory.id for hit in hits] == [ids[421]]  # the keyword index is rebuilt

        step(6, "the run ended verified: digests of both sides match")
        assert report.verified
        assert report.drift == 0
        assert report.digest_local == report.digest_remote != ""
        events = store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL)
        assert [(e.result, e.count) for e in events] == [(SyncResult.SUCCESS, 1000)]

        step(7, "recover again: idempotent, nothing written")
        again = await recover(store, replica, RecoveryOptions(include_deleted=True), clock=clock)
        assert (again.recovered, again.skipped, again.conflicts) == (0, 1000, 0)
        assert again.verified
        assert snapshot(settings.store_path) == after
        store.close()

    with_replica(settings, story)


def memory_ids(path: Path) -> set[str]:
    return {row[0] for row in rows(path, "SELECT id FROM memories")}


def test_project_and_since_limit_the_scope(empty_replica: Neo4jServer, tmp_path: Path) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()

    async def story(replica: Neo4jReplica) -> None:
        step(1, "write 30 memories in 3 projects, then update 4 of them after a moment T")
        store = LocalStore.open(settings.store_path)
        service = MemoryService(store, clock=clock)
        made = [remember(service, i) for i in range(30)]
        moment = clock()
        later = [made[1].id, made[2].id, made[10].id, made[21].id]
        for memory_id in later:
            service.update(memory_id, {"content": f"changed after T: {memory_id}"})
        service.forget(made[0].id)  # project alpha, forgotten after T
        await replicate(store, replica, clock)
        store.close()
        alpha = {str(m.id) for m in made if m.project_id == "alpha"} - {str(made[0].id)}

        step(2, "wipe, then recover only project alpha")
        shutil.rmtree(settings.home)
        store = LocalStore.open(settings.store_path)
        report = await recover(store, replica, RecoveryOptions(project_id="alpha"), clock=clock)
        assert memory_ids(settings.store_path) == alpha
        assert report.recovered == len(alpha)
        assert report.verified
        assert {r[0] for r in rows(settings.store_path, "SELECT id FROM projects")} == {"alpha"}
        sessions = rows(settings.store_path, "SELECT DISTINCT project_id FROM sessions")
        assert sessions == [("alpha",)]
        store.close()

        step(3, "wipe, then recover only what changed since T (tombstones included)")
        shutil.rmtree(settings.home)
        store = LocalStore.open(settings.store_path)
        since = RecoveryOptions(since=moment, include_deleted=True)
        report = await recover(store, replica, since, clock=clock)
        assert memory_ids(settings.store_path) == {str(i) for i in [*later, made[0].id]}
        assert report.recovered == 5
        assert report.verified
        store.close()

    with_replica(settings, story)


def test_a_dry_run_counts_the_same_and_writes_nothing(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()

    async def story(replica: Neo4jReplica) -> None:
        step(1, "write and replicate 40 memories; wipe the folder")
        store = LocalStore.open(settings.store_path)
        write_memories(MemoryService(store, clock=clock), clock, 40)
        await replicate(store, replica, clock)
        store.close()
        shutil.rmtree(settings.home)

        step(2, "a dry run reports what it would do and leaves the fresh store empty")
        store = LocalStore.open(settings.store_path)
        empty = snapshot(settings.store_path)
        options = RecoveryOptions(include_deleted=True)
        dry = await recover(
            store, replica, options.model_copy(update={"dry_run": True}), clock=clock
        )
        assert snapshot(settings.store_path) == empty
        assert all(not table for table in empty.values())
        assert (dry.recovered, dry.skipped, dry.conflicts, dry.verified) == (40, 0, 0, False)

        step(3, "the real run does exactly what the dry run announced")
        real = await recover(store, replica, options, clock=clock)
        assert (real.recovered, real.skipped, real.conflicts) == (40, 0, 0)
        assert real.verified

        step(4, "after a change elsewhere, a dry run sees only that change")
        ids = sorted(memory_ids(settings.store_path))
        other = LocalStore.open(tmp_path / "machine-b" / "memvault.db")
        await recover(other, replica, options, clock=clock)
        live = next(i for i in ids if not other.get(UUID(i)).is_deleted)  # type: ignore[union-attr]
        MemoryService(other, clock=clock).update(live, {"content": "changed on machine B"})
        await Replicator(other, replica, origin="machine-b", clock=clock).run_once()
        other.close()
        before = snapshot(settings.store_path)
        dry = await recover(
            store, replica, options.model_copy(update={"dry_run": True}), clock=clock
        )
        assert (dry.recovered, dry.skipped, dry.conflicts) == (1, 39, 0)
        assert snapshot(settings.store_path) == before
        real = await recover(store, replica, options, clock=clock)
        assert (real.recovered, real.skipped, real.conflicts) == (1, 39, 0)
        assert store.get(UUID(live)).content == "changed on machine B"  # type: ignore[union-attr]
        store.close()

    with_replica(settings, story)


def test_as_of_restores_the_state_at_a_past_moment(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()

    async def story(replica: Neo4jReplica) -> None:
        step(1, "write, embed; mark T; then update, re-weigh, forget and add")
        store = LocalStore.open(settings.store_path)
        service = MemoryService(store, clock=clock)
        rewritten = service.remember({"content": "the build uses make", "project_id": "p"})
        embed(store, clock, rewritten.id, seed=1)
        reweighed = service.remember({"content": "tests run on CI", "project_id": "p"})
        vector = embed(store, clock, reweighed.id, seed=2).embedding
        forgotten = service.remember({"content": "deploy on fridays", "project_id": "p"})
        moment = clock()
        service.update(rewritten.id, {"content": "the build uses just"})
        service.update(reweighed.id, {"importance": 0.9})
        service.forget(forgotten.id)
        after_forget = clock()
        newcomer = service.remember({"content": "born after T", "project_id": "p"})
        await replicate(store, replica, clock)
        store.close()
        shutil.rmtree(settings.home)

        step(2, "recover as of T into a fresh store")
        store = LocalStore.open(settings.store_path)
        report = await recover(store, replica, RecoveryOptions(as_of=moment), clock=clock)
        assert (report.recovered, report.conflicts) == (3, 0)
        assert report.verified
        old = store.get(rewritten.id)
        assert old is not None
        assert old.content == "the build uses make"
        assert old.embedding is None
        assert old.embedding_dim is None
        kept = store.get(reweighed.id)
        assert kept is not None
        assert kept.importance == 0.5
        assert kept.embedding == pytest.approx(vector, abs=1e-6)  # same text: head's vector
        alive = store.get(forgotten.id)
        assert alive is not None
        assert not alive.is_deleted
        assert store.get(newcomer.id) is None
        assert [v.content for v in store.versions(rewritten.id)] == ["the build uses make"] * 2
        store.close()

        step(3, "as of after the forget: the tombstone only with include_deleted")
        shutil.rmtree(settings.home)
        store = LocalStore.open(settings.store_path)
        await recover(store, replica, RecoveryOptions(as_of=after_forget), clock=clock)
        assert store.get(forgotten.id) is None
        await recover(
            store,
            replica,
            RecoveryOptions(as_of=after_forget, include_deleted=True),
            clock=clock,
        )
        gone = store.get(forgotten.id)
        assert gone is not None
        assert gone.is_deleted
        assert store.get(rewritten.id).content == "the build uses just"  # type: ignore[union-attr]
        store.close()

    with_replica(settings, story)


def test_recovery_never_overwrites_an_unsent_local_change(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()

    async def story(replica: Neo4jReplica) -> None:
        step(1, "machine A writes three memories and replicates them")
        store = LocalStore.open(settings.store_path)
        mine = MemoryService(store, clock=clock)
        a, b, c = (mine.remember({"content": f"memory {n}"}) for n in "abc")
        await replicate(store, replica, clock)

        step(2, "machine B recovers, edits a and b, and replicates")
        other = LocalStore.open(tmp_path / "machine-b" / "memvault.db")
        await recover(other, replica, RecoveryOptions(), clock=clock)
        theirs = MemoryService(other, clock=clock)
        theirs.update(a.id, {"content": "a, as B wrote it"})
        theirs.update(b.id, {"content": "b, as B wrote it"})
        await Replicator(other, replica, origin="machine-b", clock=clock).run_once()
        other.close()

        step(3, "machine A edits a without replicating, then recovers")
        mine.update(a.id, {"content": "a, as A wrote it (unsent)"})
        report = await recover(store, replica, RecoveryOptions(), clock=clock)

        step(4, "a is A's unsent text, still queued; b came from B; c was already there")
        assert (report.recovered, report.skipped, report.conflicts) == (1, 1, 1)
        assert report.conflict_ids == [str(a.id)]
        assert store.get(a.id).content == "a, as A wrote it (unsent)"  # type: ignore[union-attr]
        assert store.pending_ids() == {str(a.id)}
        assert store.get(b.id).content == "b, as B wrote it"  # type: ignore[union-attr]
        assert store.get(c.id).content == "memory c"  # type: ignore[union-attr]
        assert report.verification is not None
        assert report.verification.local_pending == [str(a.id)]
        assert report.verified
        event = store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL, limit=1)[0]
        assert event.result is SyncResult.PARTIAL  # a conflict was left for a human
        store.close()

    with_replica(settings, story)


def test_pages_report_progress_and_an_unreachable_replica_fails_cleanly(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()
    store = LocalStore.open(settings.store_path)
    write_memories(MemoryService(store, clock=clock), clock, 25)
    with_replica(settings, lambda replica: replicate(store, replica, clock))
    store.close()
    shutil.rmtree(settings.home)

    step(1, "recover in pages of 10: progress after each page, every memory once")
    store = LocalStore.open(settings.store_path)
    pages: list[tuple[int, int]] = []
    report = with_replica(
        settings,
        lambda replica: recover(
            store,
            replica,
            RecoveryOptions(include_deleted=True),
            clock=clock,
            progress=lambda done, total: pages.append((done, total)),
            page_size=10,
        ),
    )
    assert pages == [(0, 25), (10, 25), (20, 25), (25, 25)]
    assert report.recovered == 25
    assert report.verified

    step(2, "a replica that cannot be reached: the error is raised and recorded, nothing lost")
    before = snapshot(settings.store_path)
    nowhere = settings.model_copy(update={"neo4j_uri": f"bolt://127.0.0.1:{free_port()}"})
    with pytest.raises(UnavailableError):
        with_replica(
            nowhere, lambda replica: recover(store, replica, RecoveryOptions(), clock=clock)
        )
    assert snapshot(settings.store_path) == before
    failed = store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL, limit=1)[0]
    assert failed.result is SyncResult.FAILED
    assert "unreachable" in (failed.error or "")
    store.close()


# -- never mirror emptiness ---------------------------------------------------------------------


def seeded(server: Neo4jServer, tmp_path: Path, count: int = 12) -> Settings:
    """A replica holding `count` memories written by a store that no longer exists."""
    settings = server.settings(tmp_path / "home")
    clock = Ticker()
    store = LocalStore.open(settings.store_path)
    write_memories(MemoryService(store, clock=clock), clock, count)
    with_replica(settings, lambda replica: replicate(store, replica, clock))
    store.close()
    shutil.rmtree(settings.home)
    return settings


def start(settings: Settings) -> Any:
    return asyncio.run(ensure_not_empty(settings, Neo4jReplica.from_settings, clock=Ticker()))


def test_a_missing_store_is_recovered_before_serving(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = seeded(empty_replica, tmp_path)
    assert store_state(settings.store_path) is StoreState.MISSING
    with structlog.testing.capture_logs() as logs:
        decision = start(settings)
    assert (decision.state, decision.action) == (StoreState.MISSING, StartupAction.RECOVERED)
    assert decision.remote_memories == 12
    assert decision.report.verified
    assert len(memory_ids(settings.store_path)) == 12
    warnings = [log for log in logs if log["log_level"] == "warning"]
    assert len(warnings) == 1
    assert "replica holds 12 memories" in warnings[0]["message"]
    assert store_state(settings.store_path) is StoreState.OK
    assert start(settings).action is StartupAction.NONE  # next start: nothing to do


def test_an_emptied_store_is_recovered(empty_replica: Neo4jServer, tmp_path: Path) -> None:
    settings = seeded(empty_replica, tmp_path)
    LocalStore.open(settings.store_path).close()
    start(settings)  # recovered from missing
    with closing(sqlite3.connect(settings.store_path)) as conn:
        conn.execute("DELETE FROM memories")
        conn.commit()
    assert store_state(settings.store_path) is StoreState.EMPTY
    decision = start(settings)
    assert (decision.state, decision.action) == (StoreState.EMPTY, StartupAction.RECOVERED)
    assert decision.moved_to is None
    assert len(memory_ids(settings.store_path)) == 12


def test_a_schema_less_file_is_moved_aside_not_deleted(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = seeded(empty_replica, tmp_path)
    settings.home.mkdir(parents=True)
    garbage = b"this is not a database " * 100
    settings.store_path.write_bytes(garbage)
    assert store_state(settings.store_path) is StoreState.NO_SCHEMA
    decision = start(settings)
    assert (decision.state, decision.action) == (StoreState.NO_SCHEMA, StartupAction.RECOVERED)
    assert decision.moved_to is not None
    assert decision.moved_to.read_bytes() == garbage
    assert decision.moved_to.name.startswith("memvault.db.broken-")
    assert len(memory_ids(settings.store_path)) == 12


def test_auto_recover_off_reports_and_changes_nothing(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    settings = seeded(empty_replica, tmp_path).model_copy(update={"auto_recover": False})
    with structlog.testing.capture_logs() as logs:
        decision = start(settings)
    assert decision.action is StartupAction.AUTO_RECOVER_OFF
    assert decision.remote_memories == 12
    assert "memvault recover" in logs[0]["message"]
    assert not settings.store_path.exists()


def test_an_empty_replica_means_a_new_install(empty_replica: Neo4jServer, tmp_path: Path) -> None:
    settings = empty_replica.settings(tmp_path / "home")
    decision = start(settings)
    assert decision.action is StartupAction.NOTHING_TO_RECOVER
    assert decision.remote_memories == 0
    assert not settings.store_path.exists()


def test_an_unreachable_replica_degrades_instead_of_failing(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        home=tmp_path / "home",
        neo4j_uri=f"bolt://127.0.0.1:{free_port()}",
        neo4j_password="memvault-test-password",
    )
    with structlog.testing.capture_logs() as logs:
        decision = start(settings)
    assert decision.action is StartupAction.REPLICA_UNREACHABLE
    assert "unreachable" in decision.error
    assert [log["log_level"] for log in logs] == ["warning"]
    no_replica = settings.model_copy(update={"neo4j_password": None})
    assert start(no_replica).action is StartupAction.NO_REPLICA
