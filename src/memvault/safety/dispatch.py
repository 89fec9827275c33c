"""Alert delivery: each alert goes to the replica as an audit record, and to n8n as a signed
event when N8N_WEBHOOK_URL is set. Delivery state lives in the alerts table, so an alert raised
while Neo4j or n8n is down is delivered when they are back (run by `memvault serve`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx

from memvault.errors import MemvaultError
from memvault.models import Alert
from memvault.remote.protocol import Replica
from memvault.signatures import sign
from memvault.store import LocalStore

SIGNATURE_HEADER = "X-Webhook-Signature"
_log = logging.getLogger("memvault.alerts")


def alert_event(alert: Alert) -> dict[str, Any]:
    """The JSON document n8n receives for an alert."""
    return {"event": "memvault.alert", "alert": alert.model_dump(mode="json")}


class AlertDispatcher:
    """Delivers undelivered alerts; `run_once` is the core, `run_forever` the server's loop."""

    def __init__(
        self,
        store: LocalStore,
        replica: Replica | None,
        *,
        n8n_url: str | None,
        secret: str | None,
        timeout_s: float = 5.0,
    ) -> None:
        self._store = store
        self._replica = replica
        self._n8n_url = n8n_url
        self._secret = secret
        self._timeout_s = timeout_s

    async def run_once(self) -> None:
        """Send what is undelivered; a failure leaves it for the next pass."""
        if self._replica is not None:
            pending = await asyncio.to_thread(self._store.alerts.undelivered, "synced")
            if pending:
                try:
                    await self._replica.record_alerts(pending)
                except MemvaultError as exc:
                    _log.warning("alerts not recorded on the replica yet: %s", exc)
                else:
                    await asyncio.to_thread(self._store.alerts.delivered, "synced", pending)
        if self._n8n_url:
            pending = await asyncio.to_thread(self._store.alerts.undelivered, "notified")
            sent = [alert for alert in pending if await self._notify(alert)]
            if sent:
                await asyncio.to_thread(self._store.alerts.delivered, "notified", sent)

    async def _notify(self, alert: Alert) -> bool:
        assert self._n8n_url is not None
        body = json.dumps(alert_event(alert)).encode()
        headers = {"Content-Type": "application/json"}
        if self._secret:
            headers[SIGNATURE_HEADER] = sign(body, self._secret)
        try:
            async with httpx.AsyncClient(timeout=self._timeout_s) as client:
                reply = await client.post(self._n8n_url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            _log.warning("alert %s not sent to n8n yet: %s", alert.id, exc)
            return False
        if reply.is_success:
            return True
        _log.warning("n8n answered HTTP %s for alert %s", reply.status_code, alert.id)
        return False

    async def run_forever(self, stop: asyncio.Event, interval_s: float = 0.5) -> None:
        """Deliver every `interval_s` until `stop`; errors are logged, the loop never dies."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:
                _log.exception("alert delivery crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s)
