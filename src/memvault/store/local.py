"""The local store: memories and their outbox entries, always written together."""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import UUID

from memvault.errors import NotFoundError, StoreError
from memvault.models import (
    Memory,
    MemoryFilter,
    Operation,
    SearchHit,
    Stats,
)
from memvault.store import queries
from memvault.store.connection import connect, write_transaction
from memvault.store.migrate import migrate
from memvault.store.outbox import Outbox, enqueue
from memvault.store.rows import (
    MEMORY_COLUMNS,
    MEMORY_FIELDS,
    from_db_time,
    memory_from_row,
    memory_to_row,
    to_db_time,
)
from memvault.store.synclog import SyncLog

_INSERT_MEMORY = (
    f"INSERT INTO memories ({MEMORY_COLUMNS}) VALUES ({', '.join(':' + f for f in MEMORY_FIELDS)})"
)
# An upsert, not INSERT OR REPLACE: REPLACE deletes without firing the FTS delete trigger.
_UPSERT_MEMORY = (
    _INSERT_MEMORY
    + " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{f} = excluded.{f}" for f in MEMORY_FIELDS if f != "id")
)
_UPDATE_MEMORY = (
    f"UPDATE memories SET {', '.join(f'{f} = :{f}' for f in MEMORY_FIELDS if f != 'id')}"
    " WHERE id = :id"
)


class LocalStore:
    """One SQLite file. Safe to share between threads and between processes.

    Every mutation writes the memory row and its outbox entry in one transaction (invariant 1),
    and updates are read-modify-write inside the write lock, so concurrent writers never lose
    each other's changes.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._lock = threading.RLock()  # one connection, many threads: serialise its use
        self.path = path
        self.outbox = Outbox(conn, self._lock)
        self.synclog = SyncLog(conn, self._lock)

    @classmethod
    def open(cls, path: Path) -> LocalStore:
        """Open the store at `path`, creating it and applying pending migrations.

        Raises StoreError when the file exists but is not a usable SQLite database.
        """
        try:
            conn = connect(path)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the store at {path}: {exc}") from exc
        try:
            migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"cannot prepare the store at {path}: {exc}") from exc
        return cls(conn, path)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- writes ---------------------------------------------------------------------------------

    def create(self, memory: Memory) -> None:
        """Insert a new memory (with its project and session rows) and queue its `create`."""
        with self._lock, write_transaction(self._conn) as conn:
            _ensure_context(conn, memory)
            conn.execute(_INSERT_MEMORY, memory_to_row(memory))
            if memory.session_id is not None:
                conn.execute(
                    "UPDATE sessions SET memory_count = memory_count + 1 WHERE id = ?",
                    (memory.session_id,),
                )
            _add_version(conn, memory)
            enqueue(conn, memory, Operation.CREATE)

    def mutate(
        self, memory_id: UUID, change: Callable[[Memory], Memory], operation: Operation
    ) -> Memory:
        """Apply `change` to the current live version under the write lock and queue it.

        `change` receives the stored memory and returns its next version. Raises NotFoundError
        when the memory does not exist or is already a tombstone.
        """
        with self._lock, write_transaction(self._conn) as conn:
            current = _fetch(conn, memory_id)
            if current is None or current.is_deleted:
                raise NotFoundError(f"memory {memory_id} not found")
            updated = change(current)
            conn.execute(_UPDATE_MEMORY, memory_to_row(updated))
            _add_version(conn, updated)
            enqueue(conn, updated, operation)
            return updated

    def put_replicated(self, memories: Sequence[Memory], history: Sequence[Memory] = ()) -> None:
        """Write versions that came from the replica: rows are inserted or replaced as given,
        with no outbox entries (they are already remote); `history` adds older versions."""
        if not memories and not history:
            return
        with self._lock, write_transaction(self._conn) as conn:
            for memory in memories:
                _ensure_context(conn, memory)
            conn.executemany(_UPSERT_MEMORY, [memory_to_row(memory) for memory in memories])
            for version in (*history, *memories):
                _add_version(conn, version)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, memory_id: UUID) -> Memory | None:
        """The memory with this id, tombstone or not; None when there is none."""
        with self._lock:
            return _fetch(self._conn, memory_id)

    def list(self, flt: MemoryFilter) -> builtins.list[Memory]:
        """Memories matching the filter, newest first."""
        sql, params = queries.list_sql(flt)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [memory_from_row(row) for row in rows]

    def search(self, text: str, flt: MemoryFilter) -> builtins.list[SearchHit]:
        """Keyword search (FTS5, BM25-ranked) over content and tags, with the filters."""
        expression = queries.fts_expression(text)
        if expression is None:
            return []
        sql, params = queries.search_sql(expression, flt)
        with self._lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [SearchHit(memory=memory_from_row(row), score=-row["rank"]) for row in rows]

    def stats(self) -> Stats:
        with self._lock:
            conn = self._conn
            total, deleted, last_write = conn.execute(
                "SELECT count(*) FILTER (WHERE deleted_at IS NULL),"
                " count(*) FILTER (WHERE deleted_at IS NOT NULL), max(updated_at) FROM memories"
            ).fetchone()
            by_type = dict(
                conn.execute(
                    "SELECT memory_type, count(*) FROM memories WHERE deleted_at IS NULL"
                    " GROUP BY 1 ORDER BY 1"
                ).fetchall()
            )
            by_project = dict(
                conn.execute(
                    "SELECT coalesce(project_id, ''), count(*) FROM memories"
                    " WHERE deleted_at IS NULL GROUP BY 1 ORDER BY 2 DESC, 1"
                ).fetchall()
            )
            pending = conn.execute("SELECT count(*) FROM sync_queue").fetchone()[0]
        return Stats(
            total=total,
            deleted=deleted,
            by_type=by_type,
            by_project=by_project,
            pending_sync=pending,
            last_write_at=from_db_time(last_write),
        )

    def outbox_size(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM sync_queue").fetchone()[0])

    def version_fingerprints(self) -> builtins.list[tuple[str, int, str, bool]]:
        """(id, sync_version, content_hash, is_deleted) of every memory, ordered by id."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, sync_version, content_hash, deleted_at IS NOT NULL FROM memories"
                " ORDER BY id"
            ).fetchall()
        return [(row[0], int(row[1]), row[2], bool(row[3])) for row in rows]

    def versions(self, memory_id: UUID) -> builtins.list[Memory]:
        """Every version this store holds of a memory, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT payload FROM memory_versions WHERE memory_id = ?"
                " ORDER BY sync_version, updated_at, event_id",
                (str(memory_id),),
            ).fetchall()
        return [Memory.model_validate_json(row[0]) for row in rows]


def _fetch(conn: sqlite3.Connection, memory_id: UUID) -> Memory | None:
    row = conn.execute(
        f"SELECT {MEMORY_COLUMNS} FROM memories WHERE id = ?", (str(memory_id),)
    ).fetchone()
    return memory_from_row(row) if row else None


def _ensure_context(conn: sqlite3.Connection, memory: Memory) -> None:
    """Create the project and session a memory points at, if they are new."""
    created = to_db_time(memory.created_at)
    if memory.project_id is not None:
        conn.execute(
            "INSERT OR IGNORE INTO projects (id, name, created_at) VALUES (?, ?, ?)",
            (memory.project_id, memory.project_id, created),
        )
    if memory.session_id is not None:
        conn.execute(
            "INSERT OR IGNORE INTO sessions (id, project_id, started_at, agent)"
            " VALUES (?, ?, ?, ?)",
            (memory.session_id, memory.project_id, created, memory.source),
        )


def _add_version(conn: sqlite3.Connection, memory: Memory) -> None:
    """Keep this version in the local history (without its embedding vector)."""
    conn.execute(
        "INSERT OR IGNORE INTO memory_versions"
        " (memory_id, sync_version, event_id, updated_at, payload) VALUES (?, ?, ?, ?, ?)",
        (
            str(memory.id),
            memory.sync_version,
            str(memory.event_id or ""),
            to_db_time(memory.updated_at),
            memory.model_dump_json(exclude={"embedding", "sync_status", "synced_at", "remote_id"}),
        ),
    )
