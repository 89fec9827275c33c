"""Quarantined deletes: revert them (the memories come back here, the deletes never leave) or
let them go (they replicate). Both are a person's decision, taken through `memvault alerts`."""

from __future__ import annotations

import sqlite3
import threading

from memvault.models import Memory, Operation, SyncStatus
from memvault.store.connection import write_transaction
from memvault.store.outbox import HOLD_SWITCH
from memvault.store.rows import MEMORY_COLUMNS, memory_from_row, memory_to_row


class Quarantine:
    """Held delete entries by hold reason; shares the store's connection and lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def held_ids(self, reason: str) -> list[str]:
        """Memories whose delete is held under `reason`, in delete order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT memory_id FROM sync_queue WHERE held_reason = ? AND operation = 'delete'"
                " ORDER BY id",
                (reason,),
            ).fetchall()
        return [row[0] for row in rows]

    def revert(self, reason: str) -> list[str]:
        """Restore every memory whose delete is held under `reason` to its version before the
        delete, drop those deletes (and their local history entries), and stop holding new
        deletes. The replica never saw the deletes, so the restored rows equal its copies."""
        restored: list[str] = []
        with self._lock, write_transaction(self._conn) as conn:
            held = conn.execute(
                "SELECT id, memory_id, event_id, sync_version FROM sync_queue"
                " WHERE held_reason = ? AND operation = 'delete' ORDER BY id",
                (reason,),
            ).fetchall()
            for entry_id, memory_id, event_id, version in held:
                conn.execute("DELETE FROM sync_queue WHERE id = ?", (entry_id,))
                conn.execute(
                    "DELETE FROM memory_versions WHERE memory_id = ? AND event_id = ?",
                    (memory_id, event_id),
                )
                before = _version_before(conn, memory_id, version)
                if before is None:
                    continue
                waiting = conn.execute(
                    "SELECT 1 FROM sync_queue WHERE memory_id = ?", (memory_id,)
                ).fetchone()
                row = conn.execute(
                    f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", (memory_id,)
                ).fetchone()
                current = memory_from_row(row)
                back = before.model_copy(
                    update={
                        # The vector of this text is still on the row; versions keep none.
                        "embedding": current.embedding,
                        "embedding_model": current.embedding_model,
                        "embedding_dim": current.embedding_dim,
                        "remote_id": current.remote_id,
                        "synced_at": current.synced_at,
                        "sync_status": SyncStatus.PENDING if waiting else SyncStatus.SYNCED,
                    }
                )
                values = memory_to_row(back)
                conn.execute(
                    "UPDATE memories SET "
                    + ", ".join(f"{k} = :{k}" for k in values if k != "id")
                    + " WHERE id = :id",
                    values,
                )
                restored.append(memory_id)
            conn.execute(
                "DELETE FROM sync_state WHERE key = ? AND value = ?",
                (HOLD_SWITCH + Operation.DELETE.value, reason),
            )
        return restored

    def release(self, reason: str) -> int:
        """Let the deletes held under `reason` replicate, and stop holding new ones."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                "DELETE FROM sync_state WHERE key = ? AND value = ?",
                (HOLD_SWITCH + Operation.DELETE.value, reason),
            )
            return conn.execute(
                "UPDATE sync_queue SET held_reason = NULL, next_retry_at = NULL"
                " WHERE held_reason = ?",
                (reason,),
            ).rowcount


def _version_before(conn: sqlite3.Connection, memory_id: str, version: int) -> Memory | None:
    row = conn.execute(
        "SELECT payload FROM memory_versions WHERE memory_id = ? AND sync_version < ?"
        " ORDER BY sync_version DESC, updated_at DESC LIMIT 1",
        (memory_id, version),
    ).fetchone()
    return Memory.model_validate_json(row[0]) if row else None
