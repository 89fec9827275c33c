"""`verify` against the real Neo4j: in sync after replication, every planted difference reported
in its own list, and nothing changed on either side by looking."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import structlog

from memvault.config import Settings
from memvault.errors import UnavailableError
from memvault.models import Memory, SyncDirection, SyncResult
from memvault.remote.protocol import ExportFilter
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.sync.replicator import Replicator
from memvault.sync.verify import VerifyReport, verify

from .neo4j_server import Neo4jServer, free_port, with_replica


class Ticker:
    """A clock that moves one millisecond each time it is read."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def check(settings: Settings, store: LocalStore, flt: ExportFilter | None = None) -> VerifyReport:
    return with_replica(settings, lambda replica: verify(store, replica, flt, clock=Ticker()))


def execute(path: Path, sql: str, *params: Any) -> None:
    """Change the store behind memvault's back, as a stray tool or agent would."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(sql, params)
        conn.commit()


def local_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    tables = ("memories", "memory_versions", "sync_queue", "sessions", "projects", "conflicts")
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        return {
            t: [tuple(r) for r in conn.execute(f"SELECT * FROM {t} ORDER BY 1")] for t in tables
        }


def remote_graph(settings: Settings) -> list[dict[str, Any]]:
    return with_replica(
        settings,
        lambda replica: replica.read(
            "MATCH (n) OPTIONAL MATCH (n)-[r]->(o) "
            "RETURN labels(n) AS l, properties(n) AS p, type(r) AS r, elementId(o) AS o "
            "ORDER BY elementId(n), r, o"
        ),
    )


@pytest.fixture
def replicated(
    empty_replica: Neo4jServer, tmp_path: Path
) -> Iterator[tuple[Settings, LocalStore, list[Memory]]]:
    """A store of 30 memories (some forgotten, some updated) replicated to an empty replica."""
    settings = empty_replica.settings(tmp_path / "home")
    clock = Ticker()
    store = LocalStore.open(settings.store_path)
    service = MemoryService(store, clock=clock)
    made = [
        service.remember({"content": f"fact {i}", "project_id": "alpha" if i < 20 else "beta"})
        for i in range(30)
    ]
    for memory in made[::5]:
        service.update(memory.id, {"content": f"{memory.content}, revised"})
    service.forget(made[3].id)
    with_replica(
        settings,
        lambda replica: Replicator(store, replica, origin="machine-a", clock=clock).run_once(),
    )
    assert store.outbox_size() == 0
    yield settings, store, made
    store.close()


def test_verify_reports_in_sync_after_replication(
    replicated: tuple[Settings, LocalStore, list[Memory]],
) -> None:
    settings, store, _made = replicated
    with structlog.testing.capture_logs() as logs:
        report = check(settings, store)
    assert report.in_sync
    assert report.compared == 30
    assert report.digest_local == report.digest_remote
    assert (report.drift, report.local_pending) == ([], [])
    events = store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL)
    assert [(e.result, e.count) for e in events] == [(SyncResult.SUCCESS, 30)]
    lines = [log for log in logs if log.get("operation") == "verify"]
    assert len(lines) == 1
    assert lines[0]["in_sync"] is True


def test_each_planted_difference_is_reported_in_its_list(
    replicated: tuple[Settings, LocalStore, list[Memory]],
) -> None:
    settings, store, made = replicated
    path = settings.store_path
    service = MemoryService(store, clock=Ticker())
    hash_local, gone_local, tampered_remote, bumped, pending = (str(m.id) for m in made[1:6])

    execute(path, "UPDATE memories SET content_hash = ? WHERE id = ?", "0" * 64, hash_local)
    execute(path, "DELETE FROM memories WHERE id = ?", gone_local)
    execute(path, "UPDATE memories SET sync_version = sync_version + 5 WHERE id = ?", bumped)
    with_replica(
        settings,
        lambda replica: replica.write(
            "MATCH (m:Memory {id: $id}) SET m.content = 'tampered on the server'",
            id=tampered_remote,
        ),
    )
    never_sent = service.remember({"content": "written, then its outbox entry vanished"})
    execute(path, "DELETE FROM sync_queue WHERE memory_id = ?", str(never_sent.id))
    service.update(UUID(pending), {"content": "edited here, not replicated yet"})

    report = check(settings, store)

    assert report.missing_local == [gone_local]
    assert report.missing_remote == [str(never_sent.id)]
    assert report.version_differs == [bumped]
    assert sorted(report.hash_differs) == sorted([hash_local, tampered_remote])
    assert report.local_pending == [pending]  # not drift: the replicator will send it
    assert not report.in_sync
    assert report.digest_local != report.digest_remote
    assert report.as_dict(listed=1)["hash_differs_count"] == 2
    assert len(report.as_dict(listed=1)["hash_differs"]) == 1
    event = store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL, limit=1)[0]
    assert event.result is SyncResult.PARTIAL
    assert {str(i) for i in event.memory_ids} == set(report.drift)


def test_verify_changes_nothing_on_either_side(
    replicated: tuple[Settings, LocalStore, list[Memory]],
) -> None:
    settings, store, made = replicated
    path = settings.store_path
    execute(path, "DELETE FROM memories WHERE id = ?", str(made[7].id))
    MemoryService(store, clock=Ticker()).update(made[8].id, {"importance": 0.9})
    local_before, remote_before = local_tables(path), remote_graph(settings)
    events_before = len(store.synclog.events(limit=1000))

    report = check(settings, store)

    assert not report.in_sync
    assert local_tables(path) == local_before
    assert remote_graph(settings) == remote_before
    assert len(store.synclog.events(limit=1000)) == events_before + 1  # only its audit row


def test_a_filter_narrows_the_comparison(
    replicated: tuple[Settings, LocalStore, list[Memory]],
) -> None:
    settings, store, made = replicated
    execute(settings.store_path, "DELETE FROM memories WHERE id = ?", str(made[25].id))  # beta

    alpha = check(settings, store, ExportFilter(project_id="alpha", include_deleted=True))
    assert alpha.in_sync
    assert alpha.compared == 20
    live_alpha = check(settings, store, ExportFilter(project_id="alpha"))
    assert live_alpha.compared == 19  # the forgotten one is out of scope
    assert live_alpha.in_sync
    beta = check(settings, store, ExportFilter(project_id="beta"))
    assert beta.missing_local == [str(made[25].id)]


def test_an_unreachable_replica_fails_verify_and_is_recorded(
    replicated: tuple[Settings, LocalStore, list[Memory]],
) -> None:
    settings, store, _made = replicated
    nowhere = settings.model_copy(update={"neo4j_uri": f"bolt://127.0.0.1:{free_port()}"})
    with pytest.raises(UnavailableError):
        check(nowhere, store)
    event = store.synclog.events(direction=SyncDirection.REMOTE_TO_LOCAL, limit=1)[0]
    assert event.result is SyncResult.FAILED
    assert "unreachable" in (event.error or "")
