"""The store watchdog on real SQLite files, changed from outside the way an agent would: the file
deleted, replaced, its table dropped, its rows deleted, a write lock held. No replica is
configured here (the recovery from Neo4j is tests/integration/test_wipe_response.py), except a
stand-in for the replica's count in the below-remote test, which uses nothing else of it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from memvault.errors import UnavailableError
from memvault.models import Alert, AlertKind, AlertState
from memvault.remote.protocol import ExportFilter
from memvault.safety.watchdog import StoreWatchdog, look_inside
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.sync.engine import SyncEngine


def fill(service: MemoryService, count: int = 12) -> None:
    for i in range(count):
        service.remember({"content": f"decision {i}: keep the outbox", "project_id": "shop"})


def rows(path: Path, sql: str = "SELECT count(*) FROM memories") -> int:
    """One number read from the file at `path` through a connection of its own."""
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def outside(path: Path, sql: str) -> None:
    """Run a statement on the store file from a second connection, as an agent's sqlite3 would."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(sql)


def check(watchdog: StoreWatchdog) -> Alert | None:
    return asyncio.run(watchdog.check())


@pytest.fixture
def watched(service: MemoryService) -> tuple[MemoryService, StoreWatchdog]:
    fill(service)
    watchdog = StoreWatchdog(service)
    assert check(watchdog) is None  # a sound store is no finding
    return service, watchdog


def aside(path: Path, marker: str) -> list[Path]:
    return sorted(p for p in path.parent.iterdir() if marker in p.name)


def test_a_deleted_store_is_put_back_from_the_open_file_and_reported_once(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    path = service.store.path
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink()
    late = service.remember({"content": "written after the file was deleted"})

    alert = check(watchdog)

    assert alert is not None
    assert alert.kind is AlertKind.STORE_VANISHED
    assert alert.evidence["path"] == str(path)
    assert alert.evidence["rows_before"] == 12  # the last count seen
    assert "nothing was lost" in alert.evidence["restored"]
    assert "none configured" in alert.evidence["replica"]
    assert alert.state is AlertState.OPEN  # nothing to verify against
    assert rows(path) == 13  # every memory, the late one too, is in the file at the path
    assert service.get(late.id).content == "written after the file was deleted"
    assert check(watchdog) is None  # reported once
    assert [a.kind for a in service.alerts.all()] == [AlertKind.STORE_VANISHED]
    assert rows(path, "SELECT count(*) FROM alerts") == 1  # the alert is in the new file


def test_a_replaced_store_is_moved_aside_and_the_open_one_put_back(
    watched: tuple[MemoryService, StoreWatchdog], tmp_path: Path
) -> None:
    service, watchdog = watched
    path = service.store.path
    other = tmp_path / "other.db"
    outside(other, "CREATE TABLE notes (text TEXT)")
    outside(other, "INSERT INTO notes VALUES ('not memvault')")
    os.replace(other, path)  # a different file (inode) at the store's path

    alert = check(watchdog)

    assert alert is not None
    assert alert.kind is AlertKind.STORE_REPLACED
    assert alert.evidence["found_inode"] != alert.evidence["watched_inode"]
    [broken] = aside(path, ".broken-")  # the replacement, alone: no log of ours beside it
    assert str(broken) in alert.evidence["moved_aside"]
    assert rows(broken, "SELECT count(*) FROM notes") == 1  # kept intact
    assert rows(path) == 12
    assert check(watchdog) is None
    assert [a.kind for a in service.alerts.all()] == [AlertKind.STORE_REPLACED]


def test_the_store_keeps_working_on_the_new_file(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    path = service.store.path
    path.unlink()
    assert check(watchdog) is not None

    made = service.remember({"content": "after the reopen", "project_id": "shop"})
    service.forget(made.id)

    assert rows(path) == 13
    assert rows(path, "SELECT count(*) FROM sync_queue") == 14  # 12 creates, a create, a delete
    assert rows(path, "SELECT count(*) FROM memories WHERE deleted_at IS NOT NULL") == 1
    assert len(service.list({"project_id": "shop", "limit": 100})) == 12


def test_a_dropped_table_is_reported_once_and_without_a_replica_left_as_found(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    path = service.store.path
    outside(path, "DROP TABLE memories")

    alert = check(watchdog)

    assert alert is not None
    assert alert.kind is AlertKind.TABLES_DROPPED
    assert alert.evidence["missing_tables"] == ["memories"]
    assert "left as found" in alert.evidence["replica"]
    assert check(watchdog) is None
    assert check(watchdog) is None
    assert aside(path, ".broken-") == []  # nothing to recover from: the file stays for a person
    assert [a.kind for a in service.alerts.all()] == [AlertKind.TABLES_DROPPED]


def test_a_malformed_file_is_a_signal(
    watched: tuple[MemoryService, StoreWatchdog], capsys: pytest.CaptureFixture[str]
) -> None:
    service, watchdog = watched
    path = service.store.path
    outside(path, "PRAGMA wal_checkpoint(TRUNCATE)")  # else page 1 is read from the log
    with path.open("r+b") as file:  # the same file, its header overwritten
        file.write(b"this is no longer a database" * 4)

    finding = watchdog.find()

    assert finding is not None
    assert finding.kind is AlertKind.TABLES_DROPPED
    assert finding.evidence["unreadable"] == "file is not a database"
    # Without a replica the file is left as found, so the alert cannot be stored in it: it is
    # logged, once.
    assert check(watchdog) is None
    assert check(watchdog) is None
    captured = capsys.readouterr()
    logged = captured.out + captured.err  # stderr once memvault's logging is configured
    assert logged.count("the alert could not be stored") == 1
    assert "tables_dropped" in logged


def test_rows_deleted_from_outside_are_an_emptied_store_reported_once(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    outside(service.store.path, "DELETE FROM memories")

    alert = check(watchdog)

    assert alert is not None
    assert alert.kind is AlertKind.STORE_EMPTIED
    assert (alert.evidence["rows_before"], alert.evidence["rows"]) == (12, 0)
    assert check(watchdog) is None
    assert [a.kind for a in service.alerts.all()] == [AlertKind.STORE_EMPTIED]


def test_more_than_half_deleted_from_outside_is_emptied_and_fewer_is_not(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    path = service.store.path
    outside(path, "DELETE FROM memories WHERE seq IN (SELECT seq FROM memories LIMIT 5)")
    assert check(watchdog) is None  # 12 -> 7: not more than half

    outside(path, "DELETE FROM memories WHERE seq IN (SELECT seq FROM memories LIMIT 4)")
    alert = check(watchdog)  # 7 -> 3

    assert alert is None  # below the policy's minimum store size (10) only a fall to 0 counts
    outside(path, "DELETE FROM memories")
    emptied = check(watchdog)
    assert emptied is not None
    assert emptied.kind is AlertKind.STORE_EMPTIED


def test_memvaults_own_deletes_are_not_an_emptied_store(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    for memory in service.list({"project_id": "shop", "limit": 100}):
        service.forget(memory.id)

    assert check(watchdog) is None
    assert [a.kind for a in service.alerts.all()] == [AlertKind.DELETE_BURST]


def test_a_write_lock_held_elsewhere_is_not_a_signal(
    watched: tuple[MemoryService, StoreWatchdog],
) -> None:
    service, watchdog = watched
    with closing(sqlite3.connect(service.store.path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM memories")  # not committed: nobody else sees it
        assert check(watchdog) is None
        other.execute("ROLLBACK")
    assert check(watchdog) is None
    assert service.alerts.all() == []


def test_a_busy_file_gives_no_verdict_and_a_junk_file_is_damage(tmp_path: Path) -> None:
    locked = tmp_path / "locked.db"
    outside(locked, "CREATE TABLE memories (x)")
    with closing(sqlite3.connect(locked, isolation_level=None)) as holder:
        holder.execute("BEGIN EXCLUSIVE")  # a rollback-journal file: readers must wait
        holder.execute("INSERT INTO memories VALUES (1)")
        busy = look_inside(locked)
        holder.execute("ROLLBACK")
    assert (busy.rows, busy.damage) == (None, None)

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"hello " * 1000)
    assert look_inside(junk).damage == {"unreadable": "file is not a database"}


def test_reopen_rebinds_every_part_of_the_store(service: MemoryService, tmp_path: Path) -> None:
    store = service.store
    fill(service, 3)
    first = store.path
    second = tmp_path / "second" / "memvault.db"

    store.reopen(second)

    parts = [part for part in vars(store).values() if hasattr(part, "_conn")]
    assert len(parts) >= 7  # outbox, synclog, sessions, embeddings, alerts, quarantine, signals
    assert all(part._conn is store._conn for part in parts)
    assert store.path == second
    service.remember({"content": "lands in the second file", "project_id": "shop"})
    service.start_session({"project_id": "shop"})  # through the sessions part
    assert rows(second) == 1
    assert rows(second, "SELECT count(*) FROM sync_queue") == 1
    assert rows(second, "SELECT count(*) FROM sessions") >= 1
    assert rows(first) == 3


class CountingReplica:
    """Stands in for the replica's live-memory count; nothing else of it is used here."""

    def __init__(self, live: int) -> None:
        self.live = live
        self.asked: list[ExportFilter | None] = []

    async def memory_count(self, flt: ExportFilter | None = None) -> int:
        self.asked.append(flt)
        if self.live < 0:
            raise UnavailableError("replica down")
        return self.live

    async def close(self) -> None:
        pass


def test_far_fewer_memories_than_the_replica_is_reported_once(store: LocalStore) -> None:
    replica = CountingReplica(30)
    service = MemoryService(store, sync=SyncEngine(store, replica))  # type: ignore[arg-type]
    fill(service)
    watchdog = StoreWatchdog(service)

    alert = asyncio.run(watchdog.check_remote())

    assert alert is not None
    assert alert.kind is AlertKind.BELOW_REMOTE
    assert (alert.evidence["local"], alert.evidence["remote"]) == (12, 30)
    assert replica.asked == [ExportFilter(include_deleted=False)]
    assert asyncio.run(watchdog.check_remote()) is None  # once
    replica.live = -1
    store.alerts.close(alert.id, AlertState.RESOLVED, alert.created_at)
    assert asyncio.run(watchdog.check_remote()) is None  # unreachable: no verdict
    replica.live = 20
    assert asyncio.run(watchdog.check_remote()) is None  # 12 of 20 is not far below


def test_the_loop_looks_and_compares_until_stopped(store: LocalStore) -> None:
    replica = CountingReplica(30)
    service = MemoryService(store, sync=SyncEngine(store, replica))  # type: ignore[arg-type]
    fill(service)
    watchdog = StoreWatchdog(service, interval_s=0.02, remote_interval_s=0.1)

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(watchdog.run_forever(stop))
        deadline = asyncio.get_running_loop().time() + 10
        while store.alerts.open_of(AlertKind.BELOW_REMOTE) is None:
            assert asyncio.get_running_loop().time() < deadline, "no below-remote alert"
            await asyncio.sleep(0.02)
        stop.set()
        await asyncio.wait_for(loop, 5)

    asyncio.run(scenario())
    assert len(replica.asked) >= 1
