"""What a person can do about an alert: list, revert, acknowledge. Reachable from the CLI only —
never from the API's agent routes or MCP: deciding about a quarantine is for a person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from memvault.errors import InvalidInputError, NotFoundError
from memvault.models import Alert, AlertKind, AlertState
from memvault.safety.detector import hold_reason, log_quarantine
from memvault.store import LocalStore


@dataclass(frozen=True)
class Decision:
    """What revert or acknowledge did."""

    alert_id: str
    state: str
    memories: list[str]  # restored (revert) or released to replicate (acknowledge)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AlertActions:
    """Alerts of one store, and the two decisions about a delete burst's quarantine."""

    def __init__(self, store: LocalStore, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock

    def all(self, *, open_only: bool = False) -> list[Alert]:
        """Alerts, newest first."""
        return self._store.alerts.all(open_only=open_only)

    def get(self, alert_id: str) -> Alert:
        """One alert; NotFoundError for an unknown id (a prefix of 8+ characters will do)."""
        found = self._store.alerts.find(parse_alert_id(alert_id))
        if found is not None:
            return found
        raise NotFoundError(f"alert {alert_id} not found")

    def held(self, alert_id: str) -> list[str]:
        """Memories whose deletes this alert holds."""
        return self._store.quarantine.held_ids(hold_reason(self.get(alert_id)))

    def revert(self, alert_id: str) -> Decision:
        """Restore the memories whose deletes the alert holds; the deletes never replicate."""
        alert = self._open_burst(alert_id)
        held = self.held(alert_id)
        restored = self._store.quarantine.revert(hold_reason(alert))
        self._store.alerts.close(alert.id, AlertState.REVERTED, self._clock())
        log_quarantine("reverted", alert, held, self._clock())
        return Decision(str(alert.id), AlertState.REVERTED.value, restored)

    def acknowledge(self, alert_id: str) -> Decision:
        """Let the held deletes replicate (the person confirmed they were intended)."""
        alert = self._open_burst(alert_id)
        released = self.held(alert_id)
        self._store.quarantine.release(hold_reason(alert))
        self._store.alerts.close(alert.id, AlertState.ACKNOWLEDGED, self._clock())
        log_quarantine("released", alert, released, self._clock())
        return Decision(str(alert.id), AlertState.ACKNOWLEDGED.value, released)

    def _open_burst(self, alert_id: str) -> Alert:
        alert = self.get(alert_id)
        if alert.state != AlertState.OPEN:
            raise InvalidInputError(
                [{"field": "id", "message": f"alert {alert.id} is already {alert.state.value}"}]
            )
        if alert.kind != AlertKind.DELETE_BURST:
            raise InvalidInputError(
                [{"field": "id", "message": f"a {alert.kind.value} alert holds no deletes"}]
            )
        return alert


def parse_alert_id(value: str) -> str:
    """An alert id or id prefix from user input."""
    try:
        return str(UUID(value))
    except ValueError:
        return value.strip().lower()
