"""Vector similarity over the local store: an in-memory matrix of live embeddings.

Brute-force cosine over a contiguous float32 matrix is exact and takes a few milliseconds for
100,000 x 384 on one core, so no approximate index is needed at this scale. The matrix, and the
columns the filters test, are reloaded only when `vector_state.generation` (bumped by triggers)
moves. Filters are applied as numpy masks with the same meaning as `queries.filter_clause`;
a tag filter (rare, and a JSON test per row) is answered by SQL through `filter_clause` itself.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from memvault.errors import InvalidInputError
from memvault.models import MemoryFilter
from memvault.store.queries import filter_clause
from memvault.store.rows import to_db_time

Ints = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
_NONE = -1  # the code of a missing project or session


@dataclass
class _Block:
    """The live memories whose embeddings have one dimension, row-aligned."""

    seqs: Ints  # ascending
    matrix: npt.NDArray[np.float32]  # unit rows
    project: Ints  # codes into VectorIndex._codes
    is_global: Mask
    memory_type: Ints
    session: Ints
    created_at: npt.NDArray[np.datetime64]


class VectorIndex:
    """Nearest live memories to a query vector, by cosine similarity, with the shared filters."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock
        self._generation = -1
        self._blocks: dict[tuple[str | None, int], _Block] = {}  # by (model, dimension)
        self._codes: dict[str | None, int] = {None: _NONE}

    def nearest(
        self,
        vector: list[float],
        flt: MemoryFilter,
        model: str | None = None,
        min_similarity: float | None = None,
    ) -> list[int]:
        """Row seqs of the `flt.limit` most similar memories matching `flt`, best first.

        Only live memories embedded by `model` (the one that embedded the query) can match:
        another model's vectors are not comparable, even of the same dimension. Without a
        model, the largest group of vectors of the query's dimension is searched. Memories less
        similar than `min_similarity` are left out. A zero or non-finite query vector is an
        input error.
        """
        query = np.asarray(vector, dtype=np.float32)
        norm = float(np.linalg.norm(query))
        if query.ndim != 1 or not np.isfinite(norm) or norm == 0.0:
            raise InvalidInputError(
                [{"field": "vector", "message": "must be a non-zero vector of finite numbers"}]
            )
        with self._lock:
            self._refresh()
            block = self._pick(model, query.shape[0])
            if block is None:
                return []
            mask = self._mask(block, flt)
        scores = block.matrix @ (query / norm)
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        if min_similarity is not None:
            scores = np.where(scores >= min_similarity, scores, -np.inf)
        count = min(flt.limit, int(np.isfinite(scores).sum()))
        if count == 0:
            return []
        top = np.argpartition(-scores, count - 1)[:count]
        ordered = top[np.argsort(-scores[top], kind="stable")]
        return [int(seq) for seq in block.seqs[ordered]]

    def _pick(self, model: str | None, dim: int) -> _Block | None:
        if model is not None:
            return self._blocks.get((model, dim))
        same_dim = [block for (_, d), block in self._blocks.items() if d == dim]
        return max(same_dim, key=lambda block: len(block.seqs), default=None)

    def _mask(self, block: _Block, flt: MemoryFilter) -> Mask | None:
        """Rows passing the filter; None when every loaded (live) row does."""
        if flt.tags:
            return self._mask_by_sql(block, flt)
        mask: Mask | None = None

        def both(condition: Mask) -> None:
            nonlocal mask
            mask = condition if mask is None else mask & condition

        if flt.project_id is not None and not flt.all_projects:
            code = self._codes.get(flt.project_id)
            own = block.project == code if code is not None else np.zeros_like(block.is_global)
            both(own | block.is_global)
        if flt.session_id is not None:
            both(block.session == self._codes.get(flt.session_id, -2))
        if flt.memory_type is not None:
            both(block.memory_type == self._codes.get(flt.memory_type.value, -2))
        if flt.since is not None:
            both(block.created_at >= _datetime64(to_db_time(flt.since)))
        if flt.until is not None:
            both(block.created_at <= _datetime64(to_db_time(flt.until)))
        return mask

    def _mask_by_sql(self, block: _Block, flt: MemoryFilter) -> Mask:
        where, params = filter_clause(flt)
        rows = self._conn.execute(
            f"SELECT m.seq FROM memories m WHERE m.embedding IS NOT NULL AND {where}", params
        ).fetchall()
        allowed = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        positions = np.searchsorted(block.seqs, allowed)  # seqs ascending: binary search
        inside = positions < len(block.seqs)
        positions = positions[inside]
        mask = np.zeros(len(block.seqs), dtype=bool)
        mask[positions[block.seqs[positions] == allowed[inside]]] = True
        return mask

    def _code(self, value: str | None) -> int:
        return self._codes.setdefault(value, len(self._codes))

    def _refresh(self) -> None:
        generation = self._conn.execute(
            "SELECT generation FROM vector_state WHERE id = 1"
        ).fetchone()[0]
        if generation == self._generation:
            return
        grouped: dict[tuple[str | None, int], list[tuple[Any, ...]]] = {}
        for row in self._conn.execute(
            "SELECT seq, embedding, project_id, scope = 'global', memory_type, session_id,"
            " created_at, embedding_model FROM memories"
            " WHERE embedding IS NOT NULL AND deleted_at IS NULL ORDER BY seq"
        ):
            grouped.setdefault((row[7], len(row[1]) // 4), []).append(tuple(row))
        self._blocks = {key: self._block(key[1], rows) for key, rows in grouped.items()}
        self._generation = generation

    def _block(self, dim: int, rows: list[tuple[Any, ...]]) -> _Block:
        matrix = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(-1, dim)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return _Block(
            seqs=np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
            matrix=(matrix / norms).astype(np.float32),
            project=np.fromiter((self._code(r[2]) for r in rows), dtype=np.int64),
            is_global=np.fromiter((bool(r[3]) for r in rows), dtype=bool),
            memory_type=np.fromiter((self._code(r[4]) for r in rows), dtype=np.int64),
            session=np.fromiter((self._code(r[5]) for r in rows), dtype=np.int64),
            created_at=np.array([_datetime64(r[6]) for r in rows], dtype="datetime64[us]"),
        )


def _datetime64(db_time: str) -> np.datetime64:
    """A store time (fixed-width UTC ISO with `+00:00`) as numpy's naive UTC microseconds."""
    return np.datetime64(db_time.removesuffix("+00:00"), "us")
