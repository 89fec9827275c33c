"""The local store: memories and their outbox entries, always written together."""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from memvault.errors import NotFoundError, StoreError
from memvault.models import (
    Memory,
    MemoryFilter,
    Operation,
    Project,
    SearchHit,
    Session,
    Stats,
    SyncStatus,
    checked_hash,
)
from memvault.store import queries
from memvault.store.alerts import AlertRecords
from memvault.store.connection import connect, write_transaction
from memvault.store.embeddings import EmbeddingRecords
from memvault.store.migrate import migrate
from memvault.store.outbox import Outbox, enqueue
from memvault.store.quarantine import Quarantine
from memvault.store.rows import (
    MEMORY_COLUMNS,
    MEMORY_FIELDS,
    from_db_time,
    memory_from_row,
    memory_to_row,
    summary_columns,
    to_db_time,
)
from memvault.store.sessions import (
    SessionRecords,
    count_in_session,
    ensure_contexts,
    merge_context,
)
from memvault.store.signals import Signals
from memvault.store.synclog import SyncLog, insert_conflict

if TYPE_CHECKING:
    from memvault.store.vectors import VectorIndex

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


@dataclass(frozen=True)
class ReplicationState:
    """What the store knows about one memory, for comparing it with the replica's copy."""

    memory: Memory
    pending: bool  # outbox entries (unsent local changes) wait for this memory
    known_event_ids: frozenset[str]  # every version this store holds (made here or pulled)


@dataclass(frozen=True)
class PulledWrite:
    """One pull decision, applied only while the local row is still the one it was made on."""

    memory_id: UUID
    seen: tuple[str | None, str] | None  # (event_id, sync_status) of the row then; None: none
    row: Memory | None = None  # becomes the current row, exactly as given
    mark_synced: bool = False  # else: the row's version is on the replica
    conflict: tuple[Memory, Memory, str] | None = None  # (local, remote, winner) to record
    history: Sequence[Memory] = ()  # versions to keep in the local history


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
        self.sessions = SessionRecords(conn, self._lock)
        self.embeddings = EmbeddingRecords(conn, self._lock)
        self.alerts = AlertRecords(conn, self._lock)
        self.quarantine = Quarantine(conn, self._lock)
        self.signals = Signals(conn, self._lock)
        # Deletes wait this long before they may replicate, so a burst can still be caught and
        # held whole (the destruction detector's window; zero for a store used on its own).
        self.delete_delay = timedelta(0)
        self._vectors: VectorIndex | None = None  # built on first use: numpy loads slowly

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

    def reopen(
        self,
        path: Path | None = None,
        *,
        salvage_to: Path | None = None,
        replace: Callable[[], None] | None = None,
    ) -> None:
        """Swap the connection for one to the file at `path` (default: the store's path),
        created and migrated as by open(). Every part of the store is rebound, so whatever holds
        this object (service, replicator, sessions, embedding worker) carries on with the file.

        `salvage_to` first copies the database as the old connection still sees it there: the
        only copy left of a file deleted or replaced while open. `replace` runs while no
        connection is open, to move a damaged file aside or put another in its place. Raises
        StoreError when the new file cannot be opened (the store is left closed).
        """
        target = path or self.path
        with self._lock:
            if salvage_to is not None:
                copy = sqlite3.connect(salvage_to)
                try:
                    self._conn.backup(copy)
                finally:
                    copy.close()
            # Closed before anything is made at the path: SQLite removes `<path>-wal` by name
            # when a connection closes, and that must never be the new file's log.
            self._conn.close()
            if replace is not None:
                replace()
            conn = LocalStore.open(target)._conn
            self._conn, self.path, self._vectors = conn, target, None  # vectors: rebuilt on use
            for part in vars(self).values():  # outbox, sessions, alerts, …: each keeps the conn
                if hasattr(part, "_conn"):
                    part._conn = conn

    # -- writes ---------------------------------------------------------------------------------

    def create(self, memory: Memory) -> None:
        """Insert a new memory (with its project and session rows) and queue its `create`."""
        with self._lock, write_transaction(self._conn) as conn:
            ensure_contexts(conn, [memory])
            conn.execute(_INSERT_MEMORY, memory_to_row(memory))
            count_in_session(conn, memory)
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
            delay = self.delete_delay if operation == Operation.DELETE else None
            enqueue(conn, updated, operation, updated.updated_at + delay if delay else None)
            return updated

    def replace_version(self, memory: Memory, operation: Operation) -> None:
        """Make `memory` (a complete, newer version of a stored memory) current and queue it."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(_UPDATE_MEMORY, memory_to_row(memory))
            _add_version(conn, memory)
            enqueue(conn, memory, operation)

    def requeue(self, memory_ids: Sequence[UUID]) -> int:
        """Queue the current version of each named memory again, unless one already waits.

        Safe because the replica ignores versions it holds; it repairs a replica that lost data.
        """
        queued = 0
        with self._lock, write_transaction(self._conn) as conn:
            for memory_id in memory_ids:
                memory = _fetch(conn, memory_id)
                waiting = conn.execute(
                    "SELECT 1 FROM sync_queue WHERE memory_id = ?", (str(memory_id),)
                ).fetchone()
                if memory is None or waiting:
                    continue
                if memory.event_id is None:  # written before event ids existed
                    memory = memory.model_copy(update={"event_id": uuid4()})
                    conn.execute(_UPDATE_MEMORY, memory_to_row(memory))
                operation = Operation.DELETE if memory.is_deleted else Operation.UPDATE
                enqueue(conn, memory, operation)
                queued += 1
        return queued

    def put_replicated(self, memories: Sequence[Memory], history: Sequence[Memory] = ()) -> None:
        """Write versions that came from the replica: rows are inserted or replaced as given,
        with no outbox entries (they are already remote); `history` adds older versions."""
        if not memories and not history:
            return
        with self._lock, write_transaction(self._conn) as conn:
            ensure_contexts(conn, memories, replicated=True)
            conn.executemany(_UPSERT_MEMORY, [memory_to_row(memory) for memory in memories])
            for version in (*history, *memories):
                _add_version(conn, version)

    def put_recovered(
        self,
        memories: Sequence[Memory],
        history: Sequence[Memory] = (),
        *,
        expected: Mapping[UUID, str | None],
        sessions: Sequence[Session] = (),
        projects: Sequence[Project] = (),
    ) -> builtins.list[UUID]:
        """Write recovered data in one transaction, never over local work the caller did not see.

        Sessions and projects are merged additively. Each memory is written only while its row
        is still the one the caller judged — `expected[id]` is that row's event id ("" when it
        has none; None: no row) — and has no unsent changes. Returns the ids written; `history`
        is kept for those memories only.
        """
        with self._lock, write_transaction(self._conn) as conn:
            merge_context(conn, sessions, projects)
            if not memories:
                return []
            now = {
                row[0]: (row[1], bool(row[2]))
                for row in conn.execute(
                    "SELECT id, coalesce(event_id, ''), EXISTS (SELECT 1 FROM sync_queue q"
                    " WHERE q.memory_id = memories.id) FROM memories"
                    " WHERE id IN (SELECT value FROM json_each(?))",
                    (json.dumps([str(m.id) for m in memories]),),
                )
            }
            # Unchanged: still absent, or still the judged event with nothing unsent.
            chosen = [
                m
                for m in memories
                if m.id in expected
                and now.get(str(m.id))
                == (None if expected[m.id] is None else (expected[m.id], False))
            ]
            ensure_contexts(conn, chosen, replicated=True)
            conn.executemany(_UPSERT_MEMORY, [memory_to_row(m) for m in chosen])
            written = {m.id for m in chosen}
            conn.executemany(
                _INSERT_VERSION, [_version_row(v) for v in (*history, *chosen) if v.id in written]
            )
        return [m.id for m in chosen]

    def put_pulled(self, writes: Sequence[PulledWrite], now: datetime) -> builtins.list[UUID]:
        """Apply pull decisions in one transaction, skipping (and returning the ids of) memories
        whose row changed since the decision, so a concurrent local edit is never overwritten."""
        skipped: list[UUID] = []
        with self._lock, write_transaction(self._conn) as conn:
            for write in writes:
                row = conn.execute(
                    "SELECT event_id, sync_status FROM memories WHERE id = ?",
                    (str(write.memory_id),),
                ).fetchone()
                if (tuple(row) if row else None) != write.seen:
                    skipped.append(write.memory_id)
                    continue
                if write.row is not None:
                    ensure_contexts(conn, [write.row], replicated=True)
                    conn.execute(_UPSERT_MEMORY, memory_to_row(write.row))
                elif write.mark_synced:
                    conn.execute(
                        "UPDATE memories SET sync_status = ?, synced_at = ? WHERE id = ?",
                        (SyncStatus.SYNCED.value, to_db_time(now), str(write.memory_id)),
                    )
                if write.conflict is not None:
                    insert_conflict(conn, *write.conflict, now)
                for version in write.history:
                    _add_version(conn, version)
        return skipped

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

    def nearest(
        self,
        vector: builtins.list[float],
        flt: MemoryFilter,
        model: str | None = None,
        min_similarity: float | None = None,
    ) -> builtins.list[Memory]:
        """Live memories most similar to `vector` (cosine), with the filters, best first; only
        vectors of `model` and at least `min_similarity`, when given (see VectorIndex)."""
        if self._vectors is None:
            from memvault.store.vectors import VectorIndex

            self._vectors = VectorIndex(self._conn, self._lock)
        seqs = self._vectors.nearest(vector, flt, model, min_similarity)
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {summary_columns()}, seq FROM memories"
                " WHERE seq IN (SELECT value FROM json_each(?))",
                (json.dumps(seqs),),
            ).fetchall()
        found = {row["seq"]: memory_from_row(row) for row in rows}
        return [found[seq] for seq in seqs if seq in found]

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

    def version_fingerprints(
        self, *, project_id: str | None = None, since: datetime | None = None
    ) -> builtins.list[tuple[str, int, str, bool]]:
        """(id, sync_version, content hash, is_deleted) of every memory — of `project_id` and
        updated at or after `since`, when given — ordered by id. The hash is checked against
        the text (models.checked_hash), so a damaged row never looks sound."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, sync_version, content_hash, deleted_at IS NOT NULL, content"
                " FROM memories WHERE (:project IS NULL OR project_id = :project)"
                " AND (:since IS NULL OR updated_at >= :since) ORDER BY id",
                {"project": project_id, "since": to_db_time(since) if since else None},
            ).fetchall()
        return [(row[0], int(row[1]), checked_hash(row[2], row[4]), bool(row[3])) for row in rows]

    def pending_ids(self) -> set[str]:
        """Ids of the memories with unsent changes in the outbox (held ones included)."""
        with self._lock:
            return {row[0] for row in self._conn.execute("SELECT memory_id FROM sync_queue")}

    def replication_states(self, memory_ids: Sequence[UUID]) -> dict[UUID, ReplicationState]:
        """For each of these memories held locally: its row, whether it has unsent changes, and
        the event ids of every version this store holds."""
        ids = json.dumps([str(memory_id) for memory_id in memory_ids])
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {MEMORY_COLUMNS}, EXISTS (SELECT 1 FROM sync_queue q"
                " WHERE q.memory_id = memories.id) AS pending"
                " FROM memories WHERE id IN (SELECT value FROM json_each(?))",
                (ids,),
            ).fetchall()
            known: dict[str, set[str]] = {}
            for memory_id, event_id in self._conn.execute(
                "SELECT memory_id, event_id FROM memory_versions"
                " WHERE memory_id IN (SELECT value FROM json_each(?))",
                (ids,),
            ):
                known.setdefault(memory_id, set()).add(event_id)
        states = {}
        for row in rows:
            memory = memory_from_row(row)
            versions = known.get(row["id"], set()) | {str(memory.event_id or "")}
            states[memory.id] = ReplicationState(memory, bool(row["pending"]), frozenset(versions))
        return states

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


_INSERT_VERSION = (
    "INSERT OR IGNORE INTO memory_versions"
    " (memory_id, sync_version, event_id, updated_at, payload) VALUES (?, ?, ?, ?, ?)"
)


def _version_row(memory: Memory) -> tuple[str, int, str, str, str]:
    return (
        str(memory.id),
        memory.sync_version,
        str(memory.event_id or ""),
        to_db_time(memory.updated_at),
        memory.model_dump_json(exclude={"embedding", "sync_status", "synced_at", "remote_id"}),
    )


def _add_version(conn: sqlite3.Connection, memory: Memory) -> None:
    """Keep this version in the local history (without its embedding vector)."""
    conn.execute(_INSERT_VERSION, _version_row(memory))
