"""Reciprocal rank fusion: one ranking from a keyword list and a vector list.

RRF (Cormack et al., 2009) needs no score calibration between BM25 and cosine similarity, which
live on different scales; only ranks matter. The local store and the replica fuse the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from memvault.models import Memory, SearchHit

RRF_K = 60  # the paper's constant: damps the weight of the very first ranks


def fuse(
    keyword: Sequence[Memory], vector: Sequence[Memory], limit: int, k: int = RRF_K
) -> list[SearchHit]:
    """Fuse two best-first lists into at most `limit` hits, each with its rank in either list.

    score = sum over the lists that found the memory of 1 / (k + rank). Ties keep the keyword
    order, then the vector order, so results are deterministic.
    """
    hits: dict[str, SearchHit] = {}
    for rank, memory in enumerate(keyword, start=1):
        hits[str(memory.id)] = SearchHit(memory=memory, score=1 / (k + rank), keyword_rank=rank)
    for rank, memory in enumerate(vector, start=1):
        found = hits.get(str(memory.id))
        if found is None:
            hits[str(memory.id)] = SearchHit(memory=memory, score=1 / (k + rank), vector_rank=rank)
        else:
            found.score += 1 / (k + rank)
            found.vector_rank = rank
    ordered = sorted(
        hits.values(),
        key=lambda hit: (
            -hit.score,
            hit.keyword_rank if hit.keyword_rank is not None else len(keyword) + 1,
            hit.vector_rank if hit.vector_rank is not None else len(vector) + 1,
        ),
    )
    return ordered[:limit]
