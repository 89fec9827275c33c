"""The sync contract endpoints through a real `memvault serve`, with good and bad signatures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx

from memvault.signatures import sign

from .memvault_server import WEBHOOK_TOKEN, MemvaultServer
from .neo4j_server import Neo4jServer, free_port
from .test_replication import query, wait_for


def signed_post(
    server: MemvaultServer, body: bytes, *, secret: str = WEBHOOK_TOKEN, header: str | None = None
) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/sync/memory",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Signature": header if header is not None else sign(body, secret),
        },
        timeout=30,
    )


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def test_signed_ingest_stores_and_replicates(
    memvault_server: MemvaultServer, tmp_path: Path
) -> None:
    body = encode({"content": "n8n summarised the session: use WAL", "memory_type": "episodic"})
    response = signed_post(memvault_server, body)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is True
    assert answer["remote_id"]
    assert answer["synced_at"]
    assert answer["embedding_generated"] is False
    rows = query(
        memvault_server.neo4j.settings(tmp_path),
        "MATCH (m:Memory {id: $id}) RETURN m.content AS c",
        id=answer["memory_id"],
    )
    assert rows == [{"c": "n8n summarised the session: use WAL"}]


def test_bad_signatures_are_401_with_distinct_reasons_and_store_nothing(
    memvault_server: MemvaultServer,
) -> None:
    body = encode({"content": "should never be stored"})
    cases = {
        "signature_missing": signed_post(memvault_server, body, header=""),
        "signature_malformed": signed_post(memvault_server, body, header="sha1=abc"),
        "signature_mismatch": signed_post(memvault_server, body, secret="the-wrong-secret"),
    }
    altered = signed_post(
        memvault_server, body.replace(b"never", b"always"), header=sign(body, WEBHOOK_TOKEN)
    )
    cases["altered_body"] = altered
    for name, response in cases.items():
        assert response.status_code == 401, name
        expected = "signature_mismatch" if name == "altered_body" else name
        assert response.json()["error"] == expected
    stats = httpx.get(f"{memvault_server.url}/api/stats").json()
    assert stats["total"] == 0


def test_invalid_payloads_are_400(memvault_server: MemvaultServer) -> None:
    for body in (b"{not json", b"[1, 2]", encode({"content": ""}), encode({"text": "wrong field"})):
        response = signed_post(memvault_server, body)
        assert response.status_code == 400, body
        assert response.json()["error"] == "invalid_payload"
    assert httpx.get(f"{memvault_server.url}/api/stats").json()["total"] == 0


def test_a_concurrent_version_is_409_with_both_versions_and_the_resolution(
    memvault_server: MemvaultServer,
) -> None:
    created = httpx.post(f"{memvault_server.url}/api/memories", json={"content": "ours"}).json()
    changed = httpx.patch(
        f"{memvault_server.url}/api/memories/{created['id']}", json={"content": "ours, v2"}
    ).json()
    theirs = {
        "id": created["id"],
        "content": "theirs, also v2",
        "sync_version": 2,
        "updated_at": "2000-01-01T00:00:00Z",  # older than ours: ours wins
        "event_id": str(uuid4()),
    }
    response = signed_post(memvault_server, encode(theirs))

    assert response.status_code == 409, response.text
    answer = response.json()
    assert answer["local"]["content"] == "ours, v2"
    assert answer["remote"]["content"] == "theirs, also v2"
    assert answer["resolution"]["winner"] == "local"
    kept = httpx.get(f"{memvault_server.url}/api/memories/{created['id']}").json()
    assert kept["content"] == changed["content"]
    assert kept["sync_status"] == "conflict"

    # A person sees the conflict with both versions, and accepts the kept one.
    listed = memvault_server.cli("conflicts", "--json")
    [conflict] = json.loads(listed.stdout)
    assert conflict["memory_id"] == created["id"]
    assert conflict["winner"] == "local"
    assert {conflict["local"]["content"], conflict["remote"]["content"]} == {
        "ours, v2",
        "theirs, also v2",
    }
    resolved = memvault_server.cli("resolve", created["id"])
    assert resolved.returncode == 0, resolved.stderr
    assert json.loads(memvault_server.cli("conflicts", "--json").stdout) == []
    after = httpx.get(f"{memvault_server.url}/api/memories/{created['id']}").json()
    assert after["sync_status"] in ("synced", "pending")


def test_replica_down_is_503_and_the_memory_is_kept_and_queued(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    server = MemvaultServer(
        home=tmp_path / "home",
        neo4j=empty_replica,
        neo4j_uri=f"bolt://127.0.0.1:{free_port()}",  # nothing listens here
    )
    server.start()
    try:
        response = signed_post(server, encode({"content": "kept even though Neo4j is away"}))
        assert response.status_code == 503, response.text
        answer = response.json()
        assert answer["queued"] is True
        stored = httpx.get(f"{server.url}/api/memories/{answer['memory_id']}").json()
        assert stored["content"] == "kept even though Neo4j is away"
        assert stored["sync_status"] in ("queued", "pending")
        status = httpx.get(f"{server.url}/api/sync/status", timeout=30).json()
        assert status["neo4j_connected"] is False
        assert status["healthy"] is False
        assert status["queue_size"] == 1
        assert status["last_error"]
    finally:
        server.stop()


def test_trigger_status_and_bootstrap(memvault_server: MemvaultServer, tmp_path: Path) -> None:
    url = memvault_server.url
    ids = [
        httpx.post(
            f"{url}/api/memories", json={"content": f"note {i}", "project_id": "web"}
        ).json()["id"]
        for i in range(3)
    ]
    settings = memvault_server.neo4j.settings(tmp_path)
    wait_for(
        lambda: httpx.get(f"{url}/api/sync/status").json()["queue_size"] == 0,
        timeout=15,
        what="the queue to drain",
    )
    status = httpx.get(f"{url}/api/sync/status").json()
    for field in (
        "healthy",
        "neo4j_connected",
        "n8n_connected",
        "ollama_connected",
        "queue_size",
        "pending_count",
        "failed_count",
        "last_sync",
        "last_error",
        "replication_lag_seconds",
        "oldest_pending_age_seconds",
    ):
        assert field in status, field
    assert status["neo4j_connected"] is True
    assert status["last_sync"] is not None
    assert status["replication_lag_seconds"] == 0

    # The replica loses a memory; naming it in a trigger sends its current version again.
    query(settings, "MATCH (m:Memory {id: $id}) SET m.sync_version = 0", write=True, id=ids[0])
    triggered = httpx.post(f"{url}/api/sync/trigger", json={"memory_ids": [ids[0]]})
    assert triggered.status_code == 202
    assert triggered.json()["requeued"] == 1
    wait_for(
        lambda: (
            query(settings, "MATCH (m:Memory {id: $id}) RETURN m.sync_version AS v", id=ids[0])
            == [{"v": 1}]
        ),
        timeout=15,
        what="the requeued memory on the replica",
    )
    assert httpx.post(f"{url}/api/sync/trigger").status_code == 202

    dry = httpx.post(f"{url}/api/recovery/bootstrap", json={"project_id": "web", "dry_run": True})
    assert dry.status_code == 200, dry.text
    counts = dry.json()
    assert {"recovered", "skipped", "conflicts"} <= set(counts)
    assert counts["recovered"] + counts["skipped"] == 3

    # A moment without a timezone is bad input, said as such: not a server error.
    naive = httpx.post(f"{url}/api/recovery/bootstrap", json={"since": "2026-01-01T00:00:00"})
    assert naive.status_code == 422, naive.text
    assert naive.json()["details"][0]["field"] == "since"
    assert "timezone offset" in naive.json()["details"][0]["message"]
