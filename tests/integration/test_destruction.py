"""Chaos against the real `memvault serve` and Neo4j: a delete burst is caught and quarantined
(the replica keeps every memory), a person reverts or acknowledges it, a mass update raises an
alert, and every alert reaches a local receiver standing in for n8n, signed."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault.signatures import verify

from .memvault_server import WEBHOOK_TOKEN, MemvaultServer, wait_for
from .neo4j_server import Neo4jServer, query


class Receiver:
    """A local HTTP endpoint standing in for n8n's webhook: records what it is sent."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.received.append((body, self.headers.get("X-Webhook-Signature")))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook/memvault"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body, _ in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def server(
    empty_replica: Neo4jServer, receiver: Receiver, tmp_path: Path
) -> Iterator[MemvaultServer]:
    running = MemvaultServer(
        home=tmp_path / "home", neo4j=empty_replica, extra_env={"N8N_WEBHOOK_URL": receiver.url}
    )
    running.start()
    yield running
    running.stop()


def live_on_replica(server: MemvaultServer, ids: list[str]) -> int:
    rows = query(
        server.neo4j.settings(server.home),
        "MATCH (m:Memory) WHERE m.id IN $ids AND m.deleted_at IS NULL RETURN count(m) AS n",
        ids=ids,
    )
    return int(rows[0]["n"])


def test_a_delete_burst_is_held_then_reverted_or_acknowledged_by_a_person(
    server: MemvaultServer, receiver: Receiver
) -> None:
    api = httpx.Client(base_url=server.url, timeout=10)
    api.post("/api/memory/sessions", json={"session_id": "agent-1", "agent": "claude"})
    ids = [
        api.post("/api/memories", json={"content": f"decision {i}"}).json()["id"] for i in range(60)
    ]
    wait_for(lambda: live_on_replica(server, ids) == 60, "the memories to replicate")

    burst = ids[:50]
    eleventh: tuple[datetime, datetime] | None = None
    for number, memory_id in enumerate(burst, start=1):
        started = datetime.now().astimezone()
        assert api.delete(f"/api/memories/{memory_id}").status_code == 200
        if number == 11:
            eleventh = (started, datetime.now().astimezone())

    alerts = server.cli_json("alerts")
    assert [(a["kind"], a["state"]) for a in alerts] == [("delete_burst", "open")]
    alert = alerts[0]
    assert eleventh is not None
    raised = datetime.fromisoformat(alert["created_at"])
    assert eleventh[0] <= raised <= eleventh[1]  # raised while the 11th delete was answered
    assert (alert["agent"], alert["session_id"], alert["tool"]) == ("claude", "agent-1", "api")
    assert alert["evidence"]["deletes"] == 50

    # Whatever drains now, the deletes stay here: the replica keeps all 50 live.
    assert server.cli("sync").returncode == 0
    assert live_on_replica(server, burst) == 50
    status = server.cli_json("status")
    assert [a["id"] for a in status["alerts"]] == [alert["id"]]

    # n8n got the alert, signed with the shared secret.
    wait_for(lambda: bool(receiver.received), "the alert event at the n8n stand-in")
    body, signature = receiver.received[0]
    verify(body, signature, WEBHOOK_TOKEN)
    assert receiver.events()[0]["alert"]["id"] == alert["id"]
    # The replica keeps the alert as an audit record.
    wait_for(
        lambda: bool(
            query(
                server.neo4j.settings(server.home),
                "MATCH (a:Alert {id: $id}) RETURN a.kind AS kind",
                id=alert["id"],
            )
        ),
        "the alert's audit record on the replica",
    )

    # A person reverts: the 50 are back here, and their deletes never leave.
    reverted = server.cli_json("alerts", "revert", alert["id"])
    assert sorted(reverted["memories"]) == sorted(burst)
    assert all(api.get(f"/api/memories/{i}").status_code == 200 for i in burst)
    assert server.cli("sync").returncode == 0
    assert live_on_replica(server, burst) == 50
    assert server.cli_json("alerts") == []

    # A second burst, acknowledged after the typed confirmation: its tombstones go through.
    second = ids[:15]
    for memory_id in second:
        assert api.delete(f"/api/memories/{memory_id}").status_code == 200
    [again] = server.cli_json("alerts")
    wrong = server.cli("alerts", "ack", again["id"], "--confirm", "nope")
    assert wrong.returncode == 2
    assert "does not match" in wrong.stderr
    assert live_on_replica(server, second) == 15
    acked = server.cli("alerts", "ack", again["id"], "--json", input_text=again["id"][:8] + "\n")
    assert acked.returncode == 0, acked.stderr
    assert sorted(json.loads(acked.stdout)["memories"]) == sorted(second)
    wait_for(lambda: live_on_replica(server, second) == 0, "the acknowledged tombstones")
    assert live_on_replica(server, ids[15:]) == 45


def test_an_update_of_most_memories_raises_an_alert(server: MemvaultServer) -> None:
    api = httpx.Client(base_url=server.url, timeout=10)
    ids = [api.post("/api/memories", json={"content": f"note {i}"}).json()["id"] for i in range(20)]
    for memory_id in ids[:10]:  # half: not more than half
        api.patch(f"/api/memories/{memory_id}", json={"importance": 0.9})
    assert server.cli_json("alerts") == []
    for memory_id in ids[10:12]:  # 60%
        api.patch(f"/api/memories/{memory_id}", json={"importance": 0.9})
    [alert] = server.cli_json("alerts")
    assert alert["kind"] == "mass_update"
    # Raised at the 11th update; the 12th adds to the same open alert.
    assert (alert["evidence"]["updated"], alert["evidence"]["memories"]) == (12, 20)
