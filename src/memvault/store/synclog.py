"""The sync audit trail (`sync_events`), sync state (cursors) and recorded conflicts."""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import datetime
from typing import Any

from memvault.models import Memory, SyncDirection, SyncEvent, SyncResult
from memvault.store.connection import write_transaction
from memvault.store.rows import to_db_time


class SyncLog:
    """Audit rows, key/value state and conflicts; shares the store's connection and lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def record(self, event: SyncEvent) -> None:
        """Keep one audit row for a sync operation (invariant 7)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO sync_events (id, direction, result, count, memory_ids, duration_ms,"
                " retries, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(event.id),
                    event.direction.value,
                    event.result.value,
                    event.count,
                    json.dumps([str(m) for m in event.memory_ids]),
                    event.duration_ms,
                    event.retries,
                    event.error,
                    to_db_time(event.created_at),
                ),
            )

    def events(
        self,
        limit: int = 50,
        direction: SyncDirection | None = None,
        result: SyncResult | None = None,
    ) -> list[SyncEvent]:
        """The newest audit rows first, optionally of one direction and result."""
        sql, params = "SELECT * FROM sync_events WHERE 1", list[str | int]()
        if direction is not None:
            sql, params = sql + " AND direction = ?", [*params, direction.value]
        if result is not None:
            sql, params = sql + " AND result = ?", [*params, result.value]
        with self._lock:
            rows = self._conn.execute(
                sql + " ORDER BY created_at DESC LIMIT ?", [*params, limit]
            ).fetchall()
        return [
            SyncEvent.model_validate({**dict(row), "memory_ids": json.loads(row["memory_ids"])})
            for row in rows
        ]

    def get_state(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT value FROM sync_state WHERE key = ?", (key,)
            ).fetchone()
        return str(row[0]) if row else None

    def set_state(self, key: str, value: str, now: datetime) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value,"
                " updated_at = excluded.updated_at",
                (key, value, to_db_time(now)),
            )

    def record_conflict(self, local: Memory, remote: Memory, winner: str, now: datetime) -> int:
        """Keep both versions and the winner; the memory is marked `conflict` until resolved."""
        with self._lock, write_transaction(self._conn) as conn:
            return insert_conflict(conn, local, remote, winner, now)

    def conflicts(self, *, include_resolved: bool = False) -> list[dict[str, Any]]:
        where = "" if include_resolved else " WHERE resolved_at IS NULL"
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM conflicts{where} ORDER BY id").fetchall()
        return [
            {**dict(row), "local": json.loads(row["local"]), "remote": json.loads(row["remote"])}
            for row in rows
        ]

    def resolve_conflicts(self, memory_id: str, now: datetime) -> int:
        """Close the open conflicts of a memory and let it report its real sync state again."""
        with self._lock, write_transaction(self._conn) as conn:
            cursor = conn.execute(
                "UPDATE conflicts SET resolved_at = ? WHERE memory_id = ? AND resolved_at IS NULL",
                (to_db_time(now), memory_id),
            )
            conn.execute(
                "UPDATE memories SET sync_status = CASE WHEN EXISTS"
                " (SELECT 1 FROM sync_queue q WHERE q.memory_id = memories.id)"
                " THEN 'pending' ELSE 'synced' END WHERE id = ? AND sync_status = 'conflict'",
                (memory_id,),
            )
            return cursor.rowcount


def insert_conflict(
    conn: sqlite3.Connection, local: Memory, remote: Memory, winner: str, now: datetime
) -> int:
    """Record a conflict and mark the memory `conflict` (call inside a write transaction)."""
    cursor = conn.execute(
        "INSERT INTO conflicts (memory_id, local, remote, winner, detected_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            str(local.id),
            local.model_dump_json(exclude={"embedding"}),
            remote.model_dump_json(exclude={"embedding"}),
            winner,
            to_db_time(now),
        ),
    )
    conn.execute("UPDATE memories SET sync_status = 'conflict' WHERE id = ?", (str(local.id),))
    return int(cursor.lastrowid or 0)
