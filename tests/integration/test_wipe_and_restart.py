"""The README's wipe story through the real faces: `memvault serve` and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from .memvault_server import MemvaultServer
from .neo4j_server import Neo4jServer
from .test_replication import query, remote_counts, wait_for


def _fill(server: MemvaultServer, count: int) -> list[str]:
    ids = [
        httpx.post(
            f"{server.url}/api/memories",
            json={"content": f"decision {i}: keep the outbox", "project_id": "shop"},
        ).json()["id"]
        for i in range(count)
    ]
    settings = server.neo4j.settings(server.home)
    wait_for(lambda: remote_counts(settings)[0] == count, timeout=20, what="replication")
    return ids


def test_serve_recovers_a_deleted_store_before_serving(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    server = MemvaultServer(home=tmp_path / "home", neo4j=empty_replica)
    server.start()
    try:
        ids = _fill(server, 25)
    finally:
        server.stop()

    shutil.rmtree(server.home)  # step: the agent wipes the data folder
    server.start()  # step: the next start notices and recovers before serving
    try:
        listed = httpx.get(
            f"{server.url}/api/memories", params={"limit": 100, "all_projects": True}
        ).json()
        assert sorted(m["id"] for m in listed) == sorted(ids)
        assert "recover" in server.logs()
    finally:
        server.stop()


def test_cli_recover_then_verify_after_a_wipe(empty_replica: Neo4jServer, tmp_path: Path) -> None:
    server = MemvaultServer(home=tmp_path / "home", neo4j=empty_replica)
    server.start()
    try:
        ids = _fill(server, 12)
    finally:
        server.stop()
    shutil.rmtree(server.home)

    recovered = server.cli("recover", "--json")
    assert recovered.returncode == 0, recovered.stderr
    report = json.loads(recovered.stdout)
    assert report["recovered"] == 12
    assert report["verified"] is True

    verified = server.cli("verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["in_sync"] is True
    shown = server.cli("show", ids[3], "--json")
    assert json.loads(shown.stdout)["content"] == "decision 3: keep the outbox"

    # A local change not yet sent is pending, not drift; status counts it.
    server.cli("forget", ids[0])
    pending = server.cli("verify", "--json")
    assert pending.returncode == 0
    assert ids[0] in json.loads(pending.stdout)["local_pending"]
    status = server.cli("status", "--json")
    assert status.returncode == 0, status.stderr
    replication = json.loads(status.stdout)["replication"]
    assert replication["neo4j_connected"] is True
    assert replication["queue_size"] == 1

    # A planted difference on the replica makes verify fail and name the memory.
    query(
        server.neo4j.settings(server.home),
        "MATCH (m:Memory {id: $id}) SET m.content = 'tampered'",
        write=True,
        id=ids[5],
    )
    drift = server.cli("verify", "--json")
    assert drift.returncode == 1
    assert ids[5] in json.loads(drift.stdout)["hash_differs"]
