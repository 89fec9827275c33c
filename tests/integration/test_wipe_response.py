"""Wipe response against the real `memvault serve` and Neo4j: the store is deleted, its table
dropped or its rows deleted while the server runs → an alert, and the store recovered from the
replica with a verified digest. (The comparison with the replica's count runs a minute apart;
tests/unit/test_watchdog.py covers it.)"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import Neo4jServer
from .test_replication import remote_counts

COUNT = 20


@pytest.fixture
def server(empty_replica: Neo4jServer, tmp_path: Path) -> Iterator[MemvaultServer]:
    running = MemvaultServer(home=tmp_path / "home", neo4j=empty_replica)
    running.start()
    yield running
    running.stop()


def remember_and_replicate(server: MemvaultServer, count: int = COUNT) -> list[str]:
    ids = [
        httpx.post(
            f"{server.url}/api/memories",
            json={"content": f"decision {i}: deploy on green", "project_id": "shop"},
        ).json()["id"]
        for i in range(count)
    ]
    settings = server.neo4j.settings(server.home)
    wait_for(lambda: remote_counts(settings)[0] == len(ids), timeout=20, what="replication")
    return ids


def store_path(server: MemvaultServer) -> Path:
    return server.home / "memvault.db"


def stored_alerts(path: Path) -> list[dict[str, Any]]:
    """The alerts table, read-only: never creates a store file where there is none."""
    try:
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
            rows = conn.execute("SELECT kind, state, evidence FROM alerts").fetchall()
    except sqlite3.Error:  # not there (yet), or being replaced
        return []
    return [{"kind": k, "state": s, "evidence": json.loads(e)} for k, s, e in rows]


def wait_for_alert(path: Path, kind: str, state: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def seen() -> bool:
        found[:] = [a for a in stored_alerts(path) if a["kind"] == kind and a["state"] == state]
        return bool(found)

    wait_for(seen, timeout=30, what=f"a {state} {kind} alert")
    return found[0]


def listed_ids(server: MemvaultServer) -> list[str]:
    listed = httpx.get(f"{server.url}/api/memories", params={"limit": 100, "project_id": "shop"})
    return sorted(m["id"] for m in listed.json())


def assert_recovered_and_verified(server: MemvaultServer, kind: str, ids: list[str]) -> Any:
    """The alert is resolved by a verified recovery; CLI, API and verify all agree."""
    alert = wait_for_alert(store_path(server), kind, "resolved")
    recovery = alert["evidence"]["recovery"]
    assert recovery["verified"] is True
    assert recovery["digest_local"] == recovery["digest_remote"]
    shown = server.cli("alerts", "--all", "--json")
    assert shown.returncode == 0, shown.stderr
    assert [a["kind"] for a in json.loads(shown.stdout)] == [kind]
    assert listed_ids(server) == sorted(ids)
    verified = server.cli("verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = json.loads(verified.stdout)
    assert report["in_sync"] is True
    assert report["digest_remote"] == recovery["digest_remote"]
    return alert


def test_a_store_deleted_while_serving_is_alerted_and_recovered(server: MemvaultServer) -> None:
    path = store_path(server)
    ids = remember_and_replicate(server)  # 1. write and replicate

    for suffix in ("", "-wal", "-shm"):  # 2. the agent deletes the store
        Path(f"{path}{suffix}").unlink(missing_ok=True)

    alert = assert_recovered_and_verified(server, "store_vanished", ids)  # 3. alert, recovery
    # The watchdog's last look before the wipe (it looks every 0.5 s; on a loaded machine the
    # last look may predate the last writes): a count it saw, never more than was written.
    assert 0 < alert["evidence"]["rows_before"] <= COUNT
    assert "nothing was lost" in alert["evidence"]["restored"]

    # 4. the server keeps working on the file at the path: a new write lands there and replicates
    httpx.post(f"{server.url}/api/memories", json={"content": "after", "project_id": "shop"})
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as conn:
        assert conn.execute("SELECT count(*) FROM memories").fetchone()[0] == COUNT + 1
    settings = server.neo4j.settings(server.home)
    wait_for(lambda: remote_counts(settings)[0] == COUNT + 1, timeout=20, what="replication")


@pytest.mark.parametrize(
    ("statement", "kind"),
    [("DROP TABLE memories", "tables_dropped"), ("DELETE FROM memories", "store_emptied")],
)
def test_a_store_damaged_from_outside_is_moved_aside_and_recovered_from_the_replica(
    server: MemvaultServer, statement: str, kind: str
) -> None:
    path = store_path(server)
    ids = remember_and_replicate(server)

    with closing(sqlite3.connect(path, isolation_level=None)) as conn:  # an agent's sqlite3
        conn.execute(statement)

    alert = assert_recovered_and_verified(server, kind, ids)
    assert alert["evidence"]["recovery"]["recovered"] == COUNT  # from Neo4j, not from the file
    [moved] = [Path(p) for p in alert["evidence"]["moved_aside"] if p.endswith("Z")]  # not -wal
    with closing(sqlite3.connect(f"{moved.as_uri()}?mode=ro", uri=True)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        kept = conn.execute("SELECT count(*) FROM sync_state").fetchone()[0]
    assert ("memories" in tables) is (kind == "store_emptied")  # the damaged file, as it was
    assert kept >= 1
