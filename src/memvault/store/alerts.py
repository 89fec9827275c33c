"""Destruction alerts in the local store, and their delivery state (replica, n8n)."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from typing import Any
from uuid import UUID

from memvault.models import Alert, AlertKind, AlertState
from memvault.store.connection import write_transaction
from memvault.store.rows import to_db_time

_COLUMNS = "id, kind, state, evidence, agent, session_id, tool, created_at, closed_at"


def _alert(row: sqlite3.Row) -> Alert:
    return Alert.model_validate({**dict(zip(row.keys(), row, strict=True)),
                                 "evidence": json.loads(row["evidence"])})  # fmt: skip


class AlertRecords:
    """Reads and writes of the alerts table; shares the store's connection and lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def add(self, alert: Alert) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                f"INSERT INTO alerts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(alert.id),
                    alert.kind.value,
                    alert.state.value,
                    json.dumps(alert.evidence, default=str),
                    alert.agent,
                    alert.session_id,
                    alert.tool,
                    to_db_time(alert.created_at),
                    to_db_time(alert.closed_at) if alert.closed_at else None,
                ),
            )

    def find(self, id_or_prefix: str) -> Alert | None:
        """The alert with this id, or the one whose id starts with it (8+ characters)."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE id = :v"
                " OR (length(:v) >= 8 AND substr(id, 1, length(:v)) = :v)"
                " ORDER BY id = :v DESC, created_at DESC LIMIT 1",
                {"v": id_or_prefix},
            ).fetchone()
        return _alert(row) if row else None

    def open_of(self, kind: AlertKind) -> Alert | None:
        """The newest open alert of this kind, if any."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE kind = ? AND state = 'open'"
                " ORDER BY created_at DESC LIMIT 1",
                (kind.value,),
            ).fetchone()
        return _alert(row) if row else None

    def all(self, *, open_only: bool = False, limit: int = 100) -> list[Alert]:
        """Alerts, newest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE (? = 0 OR state = 'open')"
                " ORDER BY created_at DESC LIMIT ?",
                (int(open_only), limit),
            ).fetchall()
        return [_alert(row) for row in rows]

    def update_evidence(self, alert_id: UUID, evidence: dict[str, Any]) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                "UPDATE alerts SET evidence = ?, synced = 0, notified = 0 WHERE id = ?",
                (json.dumps(evidence, default=str), str(alert_id)),
            )

    def close(self, alert_id: UUID, state: AlertState, now: datetime) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                "UPDATE alerts SET state = ?, closed_at = ?, synced = 0 WHERE id = ?",
                (state.value, to_db_time(now), str(alert_id)),
            )

    def undelivered(self, column: str) -> list[Alert]:
        """Alerts not yet delivered to the replica (`synced`) or to n8n (`notified`)."""
        if column not in ("synced", "notified"):
            raise ValueError(column)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE {column} = 0 ORDER BY created_at"
            ).fetchall()
        return [_alert(row) for row in rows]

    def delivered(self, column: str, alerts: list[Alert]) -> None:
        if column not in ("synced", "notified"):
            raise ValueError(column)
        with self._lock, write_transaction(self._conn) as conn:
            conn.executemany(
                f"UPDATE alerts SET {column} = 1 WHERE id = ?", [(str(a.id),) for a in alerts]
            )
