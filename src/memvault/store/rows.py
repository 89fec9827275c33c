"""Mapping between SQLite rows and the vocabulary's models."""

from __future__ import annotations

import json
import sqlite3
from array import array
from datetime import UTC, datetime
from typing import Any

from memvault.models import Memory


def to_db_time(value: datetime) -> str:
    """Fixed-width UTC ISO-8601, so text order in SQLite equals time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def pack_embedding(vector: list[float] | None) -> bytes | None:
    """float32 little-endian bytes: a 384-dim vector takes 1.5 KiB instead of ~8 KiB of JSON."""
    return array("f", vector).tobytes() if vector is not None else None


def unpack_embedding(blob: bytes | None) -> list[float] | None:
    if blob is None:
        return None
    vector = array("f")
    vector.frombytes(blob)
    return vector.tolist()


MEMORY_FIELDS = (
    "id", "content", "memory_type", "importance", "tags", "project_id", "session_id", "task_id",
    "scope", "source", "created_at", "updated_at", "deleted_at", "sync_version", "sync_status",
    "synced_at", "remote_id", "content_hash", "embedding", "embedding_model", "embedding_dim",
    "event_id",
)  # fmt: skip
MEMORY_COLUMNS = ", ".join(MEMORY_FIELDS)


def summary_columns(alias: str = "") -> str:
    """The memory columns with the vector left out (`NULL AS embedding`; model and dimension
    kept): lists and searches return many rows, and decoding hundreds of floats per row
    would cost more than the query itself."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(
        "NULL AS embedding" if field == "embedding" else prefix + field for field in MEMORY_FIELDS
    )


def memory_to_row(memory: Memory) -> dict[str, Any]:
    return {
        "id": str(memory.id),
        "content": memory.content,
        "memory_type": memory.memory_type.value,
        "importance": memory.importance,
        "tags": json.dumps(memory.tags),
        "project_id": memory.project_id,
        "session_id": memory.session_id,
        "task_id": memory.task_id,
        "scope": memory.scope.value,
        "source": memory.source,
        "created_at": to_db_time(memory.created_at),
        "updated_at": to_db_time(memory.updated_at),
        "deleted_at": to_db_time(memory.deleted_at) if memory.deleted_at else None,
        "sync_version": memory.sync_version,
        "sync_status": memory.sync_status.value,
        "synced_at": to_db_time(memory.synced_at) if memory.synced_at else None,
        "remote_id": memory.remote_id,
        "content_hash": memory.content_hash,
        "embedding": pack_embedding(memory.embedding),
        "embedding_model": memory.embedding_model,
        "embedding_dim": memory.embedding_dim,
        "event_id": str(memory.event_id) if memory.event_id else None,
    }


def memory_from_row(row: sqlite3.Row) -> Memory:
    return Memory.model_validate(
        {
            **{key: row[key] for key in MEMORY_FIELDS},
            "tags": json.loads(row["tags"]),
            "embedding": unpack_embedding(row["embedding"]),
        }
    )
