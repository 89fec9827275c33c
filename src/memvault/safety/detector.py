"""The destruction detector: signals that an agent is destroying memories, each turned into an
Alert. Write-path signals (delete bursts, mass updates) are checked by MemoryService after each
change; the store watchdog of `memvault serve` reports the others (a vanished, replaced or
emptied store, dropped tables, far fewer memories than the replica).

Invariant 4 — a wipe never reaches the replica — is kept by quarantine: deletes wait out the
burst window in the outbox (LocalStore.delete_delay), and from the moment a burst is detected
every delete in it, and every later one, is held there until a person decides.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from memvault.models import Alert, AlertKind, Operation
from memvault.store import LocalStore
from memvault.store.rows import to_db_time


@dataclass(frozen=True)
class DetectionPolicy:
    """Thresholds; each is a setting (MEMVAULT_DELETE_BURST_COUNT, …)."""

    delete_burst_count: int = 10  # more deletes than this within the window is a burst
    window: timedelta = timedelta(seconds=60)
    mass_update_ratio: float = 0.5  # updates touching more than this share of live memories
    below_remote_ratio: float = 0.5  # fewer than this share of the replica's live memories
    min_store_size: int = 10  # mass updates and count drops are not judged below this size


@dataclass(frozen=True)
class Actor:
    """Who made a change, as far as memvault knows."""

    agent: str | None = None
    session_id: str | None = None
    tool: str | None = None  # the face: api, cli, mcp


@dataclass
class DestructionDetector:
    """Turns signals into alerts (stored locally; the dispatcher delivers them)."""

    store: LocalStore
    clock: Callable[[], datetime]
    policy: DetectionPolicy = field(default_factory=DetectionPolicy)

    def raise_alert(
        self, kind: AlertKind, evidence: dict[str, Any], actor: Actor | None = None
    ) -> Alert:
        """Record a new alert of `kind`."""
        actor = actor or Actor()
        alert = Alert(
            id=uuid4(),
            kind=kind,
            evidence=evidence,
            agent=actor.agent,
            session_id=actor.session_id,
            tool=actor.tool,
            created_at=self.clock(),
        )
        self.store.alerts.add(alert)
        return alert

    def after_delete(self, actor: Actor) -> Alert | None:
        """Check for a delete burst; on one, hold every waiting delete (and later ones). While
        the alert is open its evidence names every delete it holds, however late it came."""
        since = self.clock() - self.policy.window
        count, ids = self._recent_deletes(since)
        alert = self.store.alerts.open_of(AlertKind.DELETE_BURST)
        if alert is None and count <= self.policy.delete_burst_count:
            return None
        already_held: list[str] = alert.evidence.get("memory_ids", []) if alert else []
        if alert is None:
            evidence = {
                "deletes": count,
                "window_s": self.policy.window.total_seconds(),
                "threshold": self.policy.delete_burst_count,
                "memory_ids": ids,
            }
            alert = self.raise_alert(AlertKind.DELETE_BURST, evidence, actor)
        self.store.outbox.hold(Operation.DELETE, hold_reason(alert), from_now_on=True)
        # Not the window's deletes: a burst longer than the window, or a delete held after it,
        # would drop out of the evidence while the alert still holds it.
        held = self.store.quarantine.held_ids(hold_reason(alert))
        if held != alert.evidence.get("memory_ids"):
            evidence = {**alert.evidence, "deletes": len(held), "memory_ids": held}
            self.store.alerts.update_evidence(alert.id, evidence)
        newly_held = sorted(set(held) - set(already_held))
        if newly_held:
            log_quarantine("held", alert, newly_held, self.clock())
        return alert

    def after_update(self, actor: Actor) -> Alert | None:
        """Check whether recent updates touch more than the allowed share of all memories."""
        since = to_db_time(self.clock() - self.policy.window)
        changed, live = self.store.signals.recent_updates(since)
        if live < self.policy.min_store_size or changed <= live * self.policy.mass_update_ratio:
            return None
        evidence = {
            "updated": changed,
            "memories": live,
            "ratio": round(changed / live, 3),
            "threshold": self.policy.mass_update_ratio,
            "window_s": self.policy.window.total_seconds(),
        }
        alert = self.store.alerts.open_of(AlertKind.MASS_UPDATE)
        if alert is not None:
            self.store.alerts.update_evidence(alert.id, evidence)
            return alert
        return self.raise_alert(AlertKind.MASS_UPDATE, evidence, actor)

    def compare_with_remote(self, local: int, remote: int) -> Alert | None:
        """Alert once when the store holds far fewer live memories than the replica."""
        if remote < self.policy.min_store_size or local >= remote * self.policy.below_remote_ratio:
            return None
        if self.store.alerts.open_of(AlertKind.BELOW_REMOTE) is not None:
            return None
        evidence = {"local": local, "remote": remote, "threshold": self.policy.below_remote_ratio}
        return self.raise_alert(AlertKind.BELOW_REMOTE, evidence)

    def _recent_deletes(self, since: datetime) -> tuple[int, list[str]]:
        return self.store.signals.recent_deletes(to_db_time(since))


def log_quarantine(action: str, alert: Alert, memory_ids: list[str], now: datetime) -> None:
    """The JSON log line of a quarantine step: deletes `held`, `released` or `reverted`."""
    # Imported here: structlog (through the audit module) stays off the CLI's start-up path.
    from memvault.models import SyncDirection, SyncResult
    from memvault.sync.audit import log_operation

    log_operation(
        "quarantine",
        SyncDirection.LOCAL_TO_REMOTE,
        SyncResult.QUEUED if action == "released" else SyncResult.PARTIAL,
        memory_ids,
        now,
        action=action,
        alert_id=str(alert.id),
    )


def hold_reason(alert: Alert) -> str:
    """The outbox hold reason of an alert's quarantined deletes."""
    return f"alert:{alert.id}"
