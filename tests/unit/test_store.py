"""The store's promises: one outbox entry per change, in the same transaction; tombstones kept;
no lost updates between processes."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from memvault.errors import NotFoundError
from memvault.models import Memory
from memvault.service import MemoryService
from memvault.store import LocalStore

from .processes import run_together

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


class Ticker:
    """A clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def svc(store: LocalStore) -> MemoryService:
    return MemoryService(store, clock=Ticker())


def query(path: Path, sql: str, *params: Any) -> list[sqlite3.Row]:
    """Read through a separate connection: only committed data is visible there."""
    with closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute(sql, params).fetchall()


def outbox(path: Path) -> list[sqlite3.Row]:
    return query(path, "SELECT * FROM sync_queue ORDER BY id")


def as_json(memory: Memory) -> dict[str, Any]:
    return dict(memory.model_dump(mode="json"))


def test_each_mutation_adds_one_outbox_entry_carrying_that_version(svc: MemoryService) -> None:
    path = svc.store.path
    created = svc.remember({"content": "first words", "tags": ["a"], "project_id": "p"})
    updated = svc.update(created.id, {"content": "second words", "importance": 0.9})
    forgotten = svc.forget(created.id)

    rows = outbox(path)
    assert [(r["operation"], r["sync_version"]) for r in rows] == [
        ("create", 1),
        ("update", 2),
        ("delete", 3),
    ]
    for row, version in zip(rows, [created, updated, forgotten], strict=True):
        assert row["memory_id"] == str(created.id)
        assert json.loads(row["payload"]) == as_json(version)
        assert row["retry_count"] == 0
        assert row["last_error"] is None
    assert len({r["event_id"] for r in rows}) == 3
    assert json.loads(rows[2]["payload"])["deleted_at"] is not None
    assert svc.store.outbox_size() == 3


def test_returned_memory_is_what_was_stored(svc: MemoryService) -> None:
    created = svc.remember({"content": "round trip", "tags": ["X"], "session_id": "s1"})
    assert svc.get(created.id) == created
    updated = svc.update(created.id, {"tags": ["y", "z"], "task_id": "t-9"})
    assert svc.get(created.id) == updated
    forgotten = svc.forget(created.id)
    assert svc.get(created.id, include_deleted=True) == forgotten


def test_reads_do_not_touch_the_outbox(svc: MemoryService) -> None:
    created = svc.remember({"content": "read me"})
    svc.get(created.id)
    svc.list()
    svc.search("read")
    svc.stats()
    assert len(outbox(svc.store.path)) == 1


@contextmanager
def outbox_refusing(path: Path) -> Iterator[None]:
    """Make every outbox insert fail, from another connection, as a real failure would."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_outbox BEFORE INSERT ON sync_queue"
            " BEGIN SELECT RAISE(ABORT, 'outbox refused'); END"
        )
        try:
            yield
        finally:
            conn.execute("DROP TRIGGER refuse_outbox")


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("memories", "sync_queue", "projects", "sessions")
    return {t: [tuple(r) for r in query(path, f"SELECT * FROM {t} ORDER BY 1")] for t in tables}


def test_a_failed_outbox_insert_leaves_no_trace_of_the_change(svc: MemoryService) -> None:
    path = svc.store.path
    kept = svc.remember({"content": "kept as it was", "project_id": "p1", "session_id": "s1"})
    before = snapshot(path)

    with outbox_refusing(path):
        with pytest.raises(sqlite3.IntegrityError, match="outbox refused"):
            svc.remember({"content": "never stored", "project_id": "p2", "session_id": "s2"})
        with pytest.raises(sqlite3.IntegrityError, match="outbox refused"):
            svc.update(kept.id, {"content": "never changed"})
        with pytest.raises(sqlite3.IntegrityError, match="outbox refused"):
            svc.forget(kept.id)
        assert snapshot(path) == before
        assert svc.get(kept.id) == kept
        assert svc.search("never") == []

    # The connection is not left inside a broken transaction: the next writes go through.
    again = svc.update(kept.id, {"content": "changed at last"})
    assert again.sync_version == 2
    assert [r["operation"] for r in outbox(path)] == ["create", "update"]


def test_forget_keeps_a_tombstone_hidden_from_reads(svc: MemoryService) -> None:
    path = svc.store.path
    gone = svc.remember({"content": "obsolete deploy procedure", "project_id": "p"})
    svc.remember({"content": "current deploy procedure", "project_id": "p"})

    forgotten = svc.forget(gone.id)

    assert forgotten.deleted_at is not None
    assert forgotten.deleted_at == forgotten.updated_at
    assert forgotten.content == gone.content
    assert len(query(path, "SELECT 1 FROM memories")) == 2
    with pytest.raises(NotFoundError):
        svc.get(gone.id)
    assert svc.get(gone.id, include_deleted=True) == forgotten
    assert [m.content for m in svc.list()] == ["current deploy procedure"]
    assert {m.id for m in svc.list({"include_deleted": True})} >= {gone.id}
    assert [h.memory.content for h in svc.search("obsolete")] == []
    hits = svc.search("obsolete", {"include_deleted": True})
    assert [h.memory.id for h in hits] == [gone.id]
    stats = svc.stats()
    assert (stats.total, stats.deleted) == (1, 1)


def test_a_tombstone_cannot_be_changed_or_forgotten_again(svc: MemoryService) -> None:
    gone = svc.remember({"content": "short lived"})
    forgotten = svc.forget(gone.id)
    with pytest.raises(NotFoundError):
        svc.forget(gone.id)
    with pytest.raises(NotFoundError):
        svc.update(gone.id, {"content": "revived"})
    assert svc.get(gone.id, include_deleted=True) == forgotten
    assert len(outbox(svc.store.path)) == 2


def test_sessions_and_projects_are_created_and_counted(svc: MemoryService) -> None:
    path = svc.store.path
    for i in range(3):
        svc.remember({"content": f"note {i}", "project_id": "proj", "session_id": "sess"})
    assert [tuple(r) for r in query(path, "SELECT id, name FROM projects")] == [("proj", "proj")]
    sessions = query(path, "SELECT id, project_id, memory_count FROM sessions")
    assert [tuple(r) for r in sessions] == [("sess", "proj", 3)]


REMEMBERS = 200
UPDATES = 100

WRITER = f"""
import sys
from pathlib import Path
from memvault.service import MemoryService
from memvault.store import LocalStore

path, name, shared = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
service = MemoryService(LocalStore.open(path))
print("ready", flush=True)
sys.stdin.readline()
for i in range({REMEMBERS}):
    service.remember({{"content": f"{{name}} note {{i}}", "source": name}})
    if i % {REMEMBERS // UPDATES} == 0:
        # Both processes change one memory; update() reads the current version and writes the
        # next, so sync_version must count every update exactly once.
        service.update(shared, {{"content": f"{{name}} edit {{i}}"}})
service.store.close()
print("done", flush=True)
"""


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with closing(LocalStore.open(path)) as store:
        shared = MemoryService(store).remember({"content": "shared", "tags": ["shared"]})

    names = ["alpha", "beta"]
    lines = run_together(WRITER, [[str(path), name, str(shared.id)] for name in names])
    assert lines == [["done"], ["done"]]

    with closing(LocalStore.open(path)) as store:
        service = MemoryService(store)
        final = service.get(shared.id)
        assert final.sync_version == 1 + len(names) * UPDATES
        contents = {m.content for m in service.list({"limit": 1000})}
        assert store.outbox_size() == 1 + len(names) * (REMEMBERS + UPDATES)
    expected = {f"{name} note {i}" for name in names for i in range(REMEMBERS)}
    assert contents == expected | {final.content}

    versions = Counter(
        r["sync_version"]
        for r in query(
            path, "SELECT sync_version FROM sync_queue WHERE memory_id = ?", str(shared.id)
        )
    )
    assert versions == Counter(range(1, final.sync_version + 1))
