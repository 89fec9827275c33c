"""What the destruction detector reads from the store: recent deletes and updates."""

from __future__ import annotations

import sqlite3
import threading


class Signals:
    """Cheap counting queries over the outbox and memories; shares the store's connection."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def recent_deletes(self, since: str) -> tuple[int, list[str]]:
        """Deletes made at or after `since` (a store time) that are still in the outbox — all
        of them, as deletes wait out the window there — and their memory ids."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT memory_id FROM sync_queue WHERE operation = 'delete' AND created_at >= ?"
                " ORDER BY id",
                (since,),
            ).fetchall()
        return len(rows), [row[0] for row in rows]

    def recent_updates(self, since: str) -> tuple[int, int]:
        """(live memories changed by an update at or after `since`, live memories)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FILTER (WHERE updated_at >= ? AND sync_version > 1), count(*)"
                " FROM memories WHERE deleted_at IS NULL",
                (since,),
            ).fetchone()
        return int(row[0]), int(row[1])
