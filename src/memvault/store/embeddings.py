"""Embedding bookkeeping of the local store: which memories need a vector, writing vectors
without overwriting newer text, and which vectors still have to reach the replica."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from memvault.store.connection import write_transaction
from memvault.store.rows import pack_embedding, unpack_embedding


@dataclass(frozen=True)
class EmbeddingTask:
    """A live memory whose current text has no vector from the active model."""

    memory_id: str
    event_id: str  # the version the text belongs to: the vector is written only onto it
    content: str


@dataclass(frozen=True)
class Embedded:
    """A vector for one version of a memory."""

    memory_id: str
    event_id: str
    vector: list[float]
    model: str

    @property
    def dimension(self) -> int:
        return len(self.vector)


@dataclass(frozen=True)
class EmbeddingCounts:
    """How far embedding has got, for status and doctor."""

    embedded: int  # live memories with a vector of the active model
    missing: int  # live memories waiting for one (refused ones excluded)
    refused: int  # live memories a provider refused to embed
    unsynced: int  # vectors the replica has not received


class EmbeddingRecords:
    """Reads and writes of memories' vectors; shares the store's connection and lock."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def missing(self, model: str, limit: int) -> list[EmbeddingTask]:
        """Live memories without a vector of `model` (oldest first), refused ones left out."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, coalesce(event_id, ''), content FROM memories"
                " WHERE deleted_at IS NULL AND embedding_error IS NULL"
                " AND (embedding IS NULL OR embedding_model IS NOT ?) ORDER BY seq LIMIT ?",
                (model, limit),
            ).fetchall()
        return [EmbeddingTask(row[0], row[1], row[2]) for row in rows]

    def store(self, vectors: Sequence[Embedded]) -> int:
        """Write vectors onto the versions they were computed for; a memory changed since
        keeps its row (its new text needs a new vector). Returns how many were written."""
        with self._lock, write_transaction(self._conn) as conn:
            written = 0
            for item in vectors:
                written += conn.execute(
                    "UPDATE memories SET embedding = ?, embedding_model = ?, embedding_dim = ?,"
                    " embedding_synced = 0, embedding_error = NULL"
                    " WHERE id = ? AND coalesce(event_id, '') = ? AND deleted_at IS NULL",
                    (
                        pack_embedding(item.vector),
                        item.model,
                        item.dimension,
                        item.memory_id,
                        item.event_id,
                    ),
                ).rowcount
        return written

    def refuse(self, task: EmbeddingTask, error: str) -> None:
        """Record that the provider will never embed this text (until it changes)."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                "UPDATE memories SET embedding_error = ?"
                " WHERE id = ? AND coalesce(event_id, '') = ?",
                (error[:500], task.memory_id, task.event_id),
            )

    def invalidate(self) -> int:
        """Mark every vector stale (re-embed all, even of the same model): clears refusals too."""
        with self._lock, write_transaction(self._conn) as conn:
            return conn.execute(
                "UPDATE memories SET embedding_model = NULL, embedding_error = NULL"
                " WHERE deleted_at IS NULL"
            ).rowcount

    def unsynced(self, limit: int) -> list[Embedded]:
        """Vectors written here and not yet on the replica, for memories whose current version
        has left the outbox (the replica holds the version the vector belongs to)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, coalesce(event_id, ''), embedding, embedding_model FROM memories m"
                " WHERE embedding_synced = 0 AND embedding IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM sync_queue q WHERE q.memory_id = m.id)"
                " ORDER BY seq LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Embedded(row[0], row[1], unpack_embedding(row[2]) or [], row[3] or "") for row in rows
        ]

    def mark_synced(self, sent: Sequence[Embedded]) -> None:
        """The replica has these vectors (a vector replaced since stays unsynced)."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.executemany(
                "UPDATE memories SET embedding_synced = 1"
                " WHERE id = ? AND coalesce(event_id, '') = ? AND embedding_model IS ?",
                [(item.memory_id, item.event_id, item.model) for item in sent],
            )

    def counts(self, model: str | None) -> EmbeddingCounts:
        """Counts against the active `model`; None (embeddings off): vectors of any model,
        and nothing missing."""
        if model is None:
            with self._lock:
                row = self._conn.execute(
                    "SELECT count(*) FILTER (WHERE embedding IS NOT NULL),"
                    " count(*) FILTER (WHERE embedding_error IS NOT NULL),"
                    " (SELECT count(*) FROM memories"
                    " WHERE embedding_synced = 0 AND embedding IS NOT NULL)"
                    " FROM memories WHERE deleted_at IS NULL"
                ).fetchone()
            return EmbeddingCounts(int(row[0]), 0, int(row[1]), int(row[2]))
        with self._lock:
            row = self._conn.execute(
                "SELECT count(*) FILTER (WHERE embedding IS NOT NULL AND embedding_model IS ?),"
                " count(*) FILTER (WHERE embedding_error IS NULL"
                "   AND (embedding IS NULL OR embedding_model IS NOT ?)),"
                " count(*) FILTER (WHERE embedding_error IS NOT NULL),"
                " (SELECT count(*) FROM memories"
                " WHERE embedding_synced = 0 AND embedding IS NOT NULL)"
                " FROM memories WHERE deleted_at IS NULL",
                (model, model),
            ).fetchone()
        return EmbeddingCounts(int(row[0]), int(row[1]), int(row[2]), int(row[3]))
