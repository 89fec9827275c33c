"""Alert delivery: a local HTTP server stands in for n8n's webhook (it answers with the status
codes a test scripts), and a scripted replica stands in for the audit record's transport."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from memvault.errors import UnavailableError
from memvault.models import Alert, AlertKind
from memvault.safety.detector import Actor, DestructionDetector
from memvault.safety.dispatch import AlertDispatcher, alert_event
from memvault.signatures import verify
from memvault.store import LocalStore

SECRET = "alert-signing-secret"
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


class N8nStandIn:
    """Records every POST and answers with the next scripted status (200 once they run out)."""

    def __init__(self, statuses: Sequence[int] = ()) -> None:
        self.statuses = list(statuses)
        self.received: list[tuple[bytes, str | None]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                stand_in.received.append((body, self.headers.get("X-Webhook-Signature")))
                self.send_response(stand_in.statuses.pop(0) if stand_in.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhook/memvault-alert"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class AuditReplica:
    """Keeps the alerts it is sent; can be down."""

    def __init__(self) -> None:
        self.down = False
        self.recorded: list[Alert] = []

    async def record_alerts(self, alerts: Sequence[Alert]) -> None:
        if self.down:
            raise UnavailableError("Neo4j is unreachable: connection refused")
        self.recorded.extend(alerts)


@pytest.fixture
def n8n() -> Iterator[N8nStandIn]:
    running = N8nStandIn([500])
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.fixture
def alert(store: LocalStore) -> Alert:
    detector = DestructionDetector(store, lambda: T0)
    return detector.raise_alert(
        AlertKind.DELETE_BURST,
        {"deletes": 11, "memory_ids": ["a", "b"]},
        Actor(agent="claude", session_id="s-1", tool="api"),
    )


def dispatcher(store: LocalStore, replica: AuditReplica | None, url: str | None) -> AlertDispatcher:
    return AlertDispatcher(store, replica, n8n_url=url, secret=SECRET)  # type: ignore[arg-type]


def test_the_n8n_event_is_retried_until_accepted_then_sent_no_more(
    store: LocalStore, n8n: N8nStandIn, alert: Alert
) -> None:
    deliver = dispatcher(store, None, n8n.url)

    asyncio.run(deliver.run_once())  # n8n answers 500
    assert len(n8n.received) == 1
    assert [a.id for a in store.alerts.undelivered("notified")] == [alert.id]

    asyncio.run(deliver.run_once())  # 200
    assert len(n8n.received) == 2
    assert store.alerts.undelivered("notified") == []
    asyncio.run(deliver.run_once())
    assert len(n8n.received) == 2  # delivered once

    body, signature = n8n.received[-1]
    verify(body, signature, SECRET)  # raises unless signed with the shared secret
    assert json.loads(body) == alert_event(alert)
    assert json.loads(body)["alert"]["evidence"]["memory_ids"] == ["a", "b"]
    # Not the n8n side: no replica is configured, so the audit record still waits.
    assert [a.id for a in store.alerts.undelivered("synced")] == [alert.id]


def test_without_an_n8n_url_nothing_is_sent(
    store: LocalStore, n8n: N8nStandIn, alert: Alert
) -> None:
    replica = AuditReplica()
    asyncio.run(dispatcher(store, replica, None).run_once())
    assert n8n.received == []
    assert [a.id for a in store.alerts.undelivered("notified")] == [alert.id]
    assert [a.id for a in replica.recorded] == [alert.id]


def test_the_audit_record_waits_for_the_replica(store: LocalStore, alert: Alert) -> None:
    replica = AuditReplica()
    replica.down = True
    deliver = dispatcher(store, replica, None)

    asyncio.run(deliver.run_once())
    assert replica.recorded == []
    assert [a.id for a in store.alerts.undelivered("synced")] == [alert.id]

    replica.down = False
    asyncio.run(deliver.run_once())
    asyncio.run(deliver.run_once())
    assert [a.id for a in replica.recorded] == [alert.id]
    assert store.alerts.undelivered("synced") == []


def test_a_change_to_an_alert_is_delivered_again(store: LocalStore, alert: Alert) -> None:
    replica = AuditReplica()
    deliver = dispatcher(store, replica, None)
    asyncio.run(deliver.run_once())
    store.alerts.update_evidence(alert.id, {"deletes": 12})
    asyncio.run(deliver.run_once())
    assert [a.evidence for a in replica.recorded] == [alert.evidence, {"deletes": 12}]
