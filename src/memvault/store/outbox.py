"""The outbox (`sync_queue`): changes waiting for the replica, in the order they were made.

Entries are written by LocalStore in the same transaction as the row change, removed only after
the replica committed them, rescheduled with backoff when it could not, and held back (not
sent) while quarantined.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from memvault.models import Memory, Operation, SyncQueueItem, SyncStatus, utc_now
from memvault.store.connection import write_transaction
from memvault.store.rows import from_db_time, to_db_time

HOLD_SWITCH = "hold:"  # sync_state key prefix: new entries of this operation are held at once


@dataclass(frozen=True)
class OutboxCounts:
    """What the outbox holds, for status and lag reporting."""

    total: int
    due: int
    held: int
    retrying: int
    failed: int
    oldest_created_at: datetime | None


@dataclass(frozen=True)
class Retry:
    """A failed entry's next attempt."""

    item_id: int
    next_retry_at: datetime


def enqueue(
    conn: sqlite3.Connection,
    memory: Memory,
    operation: Operation,
    not_before: datetime | None = None,
) -> None:
    """Add the outbox entry for this version (call inside the row change's transaction); it
    is not sent before `not_before` when given (deletes wait out the burst window)."""
    held = conn.execute(
        "SELECT value FROM sync_state WHERE key = ?", (HOLD_SWITCH + operation.value,)
    ).fetchone()
    conn.execute(
        "INSERT INTO sync_queue (event_id, memory_id, operation, sync_version, payload,"
        " created_at, held_reason, next_retry_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            str(memory.event_id),
            str(memory.id),
            operation.value,
            memory.sync_version,
            json.dumps(memory.model_dump(mode="json")),
            to_db_time(memory.updated_at),
            held[0] if held else None,
            to_db_time(not_before) if not_before else None,
        ),
    )


class Outbox:
    """Reads and bookkeeping of the outbox; shares the store's connection and lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def claim_due(self, now: datetime, limit: int) -> list[SyncQueueItem]:
        """The oldest entries that are not held and whose retry time has come, in order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM sync_queue WHERE held_reason IS NULL"
                " AND (next_retry_at IS NULL OR next_retry_at <= ?) ORDER BY id LIMIT ?",
                (to_db_time(now), limit),
            ).fetchall()
        return [_item(row) for row in rows]

    def acknowledge(
        self, items: Sequence[SyncQueueItem], remote_ids: dict[UUID, str], now: datetime
    ) -> None:
        """The replica committed `items`: remove them, and mark memories whose current version
        was sent as synced. A memory changed again meanwhile stays pending."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.executemany("DELETE FROM sync_queue WHERE id = ?", [(i.id,) for i in items])
            conn.executemany(
                "UPDATE memories SET sync_status = 'synced', synced_at = ?,"
                " remote_id = coalesce(?, remote_id)"
                " WHERE id = ? AND sync_version = ? AND sync_status != 'conflict'"
                " AND NOT EXISTS (SELECT 1 FROM sync_queue q WHERE q.memory_id = memories.id)",
                [
                    (to_db_time(now), remote_ids.get(i.memory_id), str(i.memory_id), i.sync_version)
                    for i in items
                ],
            )

    def reschedule(self, retries: Sequence[Retry], error: str, status: SyncStatus) -> None:
        """Count a failed attempt for each entry, keep the error, and set its next attempt."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.executemany(
                "UPDATE sync_queue SET retry_count = retry_count + 1, next_retry_at = ?,"
                " last_error = ? WHERE id = ?",
                [(to_db_time(r.next_retry_at), error[:2000], r.item_id) for r in retries],
            )
            conn.executemany(
                "UPDATE memories SET sync_status = ? WHERE id ="
                " (SELECT memory_id FROM sync_queue WHERE id = ?) AND sync_status != 'conflict'",
                [(status.value, r.item_id) for r in retries],
            )

    def counts(self, now: datetime) -> OutboxCounts:
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*),"
                " count(*) FILTER (WHERE held_reason IS NULL"
                "   AND (next_retry_at IS NULL OR next_retry_at <= ?)),"
                " count(*) FILTER (WHERE held_reason IS NOT NULL),"
                " count(*) FILTER (WHERE retry_count > 0 AND held_reason IS NULL),"
                " (SELECT count(*) FROM memories WHERE sync_status = 'failed'),"
                " min(created_at) FILTER (WHERE held_reason IS NULL)"
                " FROM sync_queue",
                (to_db_time(now),),
            ).fetchone()
        return OutboxCounts(row[0], row[1], row[2], row[3], row[4], from_db_time(row[5]))

    def next_due_at(self) -> datetime | None:
        """When the earliest unheld entry may be sent (None: nothing waits)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT min(coalesce(next_retry_at, created_at)) FROM sync_queue"
                " WHERE held_reason IS NULL"
            ).fetchone()
        return from_db_time(row[0])

    def oldest_created_at(self) -> datetime | None:
        """When the oldest entry still in the outbox (held or not) was made."""
        with self._lock:
            row = self._conn.execute("SELECT min(created_at) FROM sync_queue").fetchone()
        return from_db_time(row[0])

    def last_id(self) -> int:
        """The newest entry's id (0 when empty): a cheap way to notice writes of other processes."""
        with self._lock:
            row = self._conn.execute("SELECT coalesce(max(id), 0) FROM sync_queue").fetchone()
        return int(row[0])

    # -- holds (quarantine) -----------------------------------------------------------------------

    def hold(self, operation: Operation, reason: str, *, from_now_on: bool = True) -> int:
        """Hold every waiting entry of `operation`; with `from_now_on`, new ones too."""
        with self._lock, write_transaction(self._conn) as conn:
            if from_now_on:
                conn.execute(
                    "INSERT INTO sync_state (key, value, updated_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (HOLD_SWITCH + operation.value, reason, to_db_time(utc_now())),
                )
            cursor = conn.execute(
                "UPDATE sync_queue SET held_reason = ? WHERE operation = ? AND held_reason IS NULL",
                (reason, operation.value),
            )
            return cursor.rowcount

    def release(self, operation: Operation) -> int:
        """Stop holding `operation`: held entries become due again; returns how many."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM sync_state WHERE key = ?", (HOLD_SWITCH + operation.value,))
            cursor = conn.execute(
                "UPDATE sync_queue SET held_reason = NULL WHERE operation = ?"
                " AND held_reason IS NOT NULL",
                (operation.value,),
            )
            return cursor.rowcount

    def held(self) -> list[SyncQueueItem]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM sync_queue WHERE held_reason IS NOT NULL ORDER BY id"
            ).fetchall()
        return [_item(row) for row in rows]


def _item(row: sqlite3.Row) -> SyncQueueItem:
    return SyncQueueItem(
        id=row["id"],
        event_id=row["event_id"],
        memory_id=row["memory_id"],
        operation=row["operation"],
        sync_version=row["sync_version"],
        payload=json.loads(row["payload"]),
        created_at=row["created_at"],
        retry_count=row["retry_count"],
        next_retry_at=row["next_retry_at"],
        last_error=row["last_error"],
        held_reason=row["held_reason"],
    )
