"""Hybrid recall: reciprocal rank fusion, and the vector side of the local store (the in-memory
index, its filters, its reload when another connection changes the vectors)."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from memvault.errors import InvalidInputError
from memvault.models import Memory, MemoryFilter, content_hash
from memvault.ranking import RRF_K, fuse
from memvault.service import MemoryService
from memvault.store import LocalStore

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
DIM = 8


def axis(index: int, dim: int = DIM, scale: float = 1.0) -> list[float]:
    """A unit vector along one axis (times `scale`): orthogonal axes have cosine 0."""
    return [scale if i == index else 0.0 for i in range(dim)]


def embedded(content: str, vector: list[float] | None, minute: int = 0, **fields: Any) -> Memory:
    """A memory as the replica would hand it over, with its embedding."""
    at = T0 + timedelta(minutes=minute)
    return Memory(
        id=uuid4(),
        content=content,
        memory_type=fields.pop("memory_type", "semantic"),
        created_at=at,
        updated_at=at,
        content_hash=content_hash(content),
        event_id=uuid4(),
        embedding=vector,
        embedding_model="test-embed" if vector else None,
        embedding_dim=len(vector) if vector else None,
        **fields,
    )


def contents(memories: list[Memory]) -> list[str]:
    return [m.content for m in memories]


# -- fuse -------------------------------------------------------------------------------------


def test_a_memory_in_both_lists_beats_one_in_a_single_list() -> None:
    a, b, c = (embedded(name, None) for name in "abc")
    hits = fuse([a, b], [c, b], limit=10)
    assert [h.memory.content for h in hits] == ["b", "a", "c"]
    ranks = [(h.keyword_rank, h.vector_rank) for h in hits]
    assert ranks == [(2, 2), (1, None), (None, 1)]
    assert hits[0].score == pytest.approx(2 / (RRF_K + 2))
    assert hits[1].score == hits[2].score == pytest.approx(1 / (RRF_K + 1))


def test_ties_keep_keyword_order_then_vector_order_and_limit_applies() -> None:
    a, b, c, d = (embedded(name, None) for name in "abcd")
    assert [h.memory.content for h in fuse([a, b], [c, d], limit=10)] == ["a", "c", "b", "d"]
    assert [h.memory.content for h in fuse([a, b], [c, d], limit=3)] == ["a", "c", "b"]
    assert [h.memory.content for h in fuse([], [d, c], limit=10)] == ["d", "c"]
    assert fuse([], [], limit=5) == []


def test_k_weighs_the_first_ranks() -> None:
    a, b = embedded("a", None), embedded("b", None)
    hits = fuse([a, b], [], limit=2, k=0)
    assert [h.score for h in hits] == [1.0, 0.5]


# -- the vector index -------------------------------------------------------------------------


@pytest.fixture
def corpus(store: LocalStore) -> dict[str, Memory]:
    """Memories at known angles from axis 0, in two projects, sessions, types and times."""
    made = {
        "exact": embedded("exact", axis(0), 0, project_id="a", session_id="s1", tags=["x"]),
        "close": embedded("close", [1, 0.5, 0, 0, 0, 0, 0, 0], 10, project_id="a", session_id="s2"),
        "far": embedded(
            "far", [1, 2, 0, 0, 0, 0, 0, 0], 20, project_id="b", memory_type="procedural"
        ),
        "global": embedded("global", [1, 1, 0, 0, 0, 0, 0, 0], 30, project_id="b", scope="global"),
        "orthogonal": embedded("orthogonal", axis(1), 40, project_id="a"),
        "gone": embedded("gone", axis(0), 50, project_id="a", deleted_at=T0),
        "four-dims": embedded("four-dims", axis(0, dim=4), 60, project_id="a"),
        "no-vector": embedded("no-vector", None, 70, project_id="a"),
    }
    store.put_replicated(list(made.values()))
    return made


def test_nearest_orders_by_cosine_within_one_dimension(
    store: LocalStore, corpus: dict[str, Memory]
) -> None:
    everything = MemoryFilter(all_projects=True)
    order = ["exact", "close", "global", "far", "orthogonal"]
    assert (
        contents(store.nearest(axis(0, scale=3.0), everything)) == order
    )  # length does not matter
    assert contents(store.nearest(axis(0, dim=4), everything)) == ["four-dims"]
    assert store.nearest(axis(0, dim=5), everything) == []
    assert contents(store.nearest(axis(0), everything.model_copy(update={"limit": 2}))) == order[:2]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"project_id": "a"}, ["exact", "close", "global", "orthogonal"]),
        (
            {"project_id": "a", "all_projects": True},
            ["exact", "close", "global", "far", "orthogonal"],
        ),
        ({"session_id": "s2"}, ["close"]),
        ({"memory_type": "procedural"}, ["far"]),
        ({"tags": ["x"]}, ["exact"]),
        (
            {"since": T0 + timedelta(minutes=10), "until": T0 + timedelta(minutes=30)},
            ["close", "global", "far"],
        ),
        ({"include_deleted": True, "project_id": "a", "session_id": "s1"}, ["exact"]),
        ({"project_id": "nobody", "memory_type": "episodic"}, []),
    ],
)
def test_filters_apply_to_the_vector_side(
    store: LocalStore, corpus: dict[str, Memory], flt: dict[str, Any], expected: list[str]
) -> None:
    assert contents(store.nearest(axis(0), MemoryFilter.model_validate(flt))) == expected


def test_a_tombstone_is_never_a_neighbour(store: LocalStore, corpus: dict[str, Memory]) -> None:
    for flt in [MemoryFilter(all_projects=True), MemoryFilter(include_deleted=True)]:
        assert "gone" not in contents(store.nearest(axis(0), flt))


def test_hybrid_search_finds_a_memory_that_shares_no_keyword(
    store: LocalStore, corpus: dict[str, Memory]
) -> None:
    svc = MemoryService(store, default_project="a")
    plain = svc.search("orthogonal")
    assert [h.memory.content for h in plain] == ["orthogonal"]
    hits = {h.memory.content: h for h in svc.search("orthogonal", vector=axis(0))}
    assert (hits["exact"].keyword_rank, hits["exact"].vector_rank) == (None, 1)
    assert (hits["orthogonal"].keyword_rank, hits["orthogonal"].vector_rank) == (1, 4)
    assert "far" not in hits  # project b's project-scoped memory: the default filter applies
    assert list(hits)[:2] == ["orthogonal", "exact"]  # found by both lists, then rank 1 of one


def test_hybrid_search_respects_the_session_filter(
    store: LocalStore, corpus: dict[str, Memory]
) -> None:
    svc = MemoryService(store, default_project="a")
    hits = svc.search("nothing matches these words", {"session_id": "s2"}, vector=axis(0))
    assert [(h.memory.content, h.keyword_rank, h.vector_rank) for h in hits] == [("close", None, 1)]


def test_the_index_follows_writes_by_another_connection(
    store: LocalStore, corpus: dict[str, Memory]
) -> None:
    everything = MemoryFilter(all_projects=True, limit=1)
    query = axis(2)
    assert contents(store.nearest(query, everything)) != ["newcomer"]  # the index is loaded now
    with closing(LocalStore.open(store.path)) as other:
        newcomer = embedded("newcomer", axis(2), 90, project_id="a")
        other.put_replicated([newcomer])
        assert contents(store.nearest(query, everything)) == ["newcomer"]
        MemoryService(other).forget(newcomer.id)
        assert contents(store.nearest(query, everything)) != ["newcomer"]
        MemoryService(other).update(corpus["exact"].id, {"content": "exact, rewritten"})
    # New text drops the old vector (it described the old text): no longer a neighbour.
    assert "exact, rewritten" not in contents(
        store.nearest(axis(0), MemoryFilter(all_projects=True))
    )


@pytest.mark.parametrize(
    "vector",
    [[0.0] * DIM, [], [float("nan")] + [1.0] * (DIM - 1), [float("inf")] * DIM],
    ids=["zero", "empty", "nan", "inf"],
)
def test_a_vector_that_points_nowhere_is_an_input_error(
    store: LocalStore, corpus: dict[str, Memory], vector: list[float]
) -> None:
    svc = MemoryService(store)
    with pytest.raises(InvalidInputError) as caught:
        svc.search("exact", vector=vector)
    assert [p["field"] for p in caught.value.problems] == ["vector"]


def test_a_similarity_floor_leaves_out_what_is_not_related(
    store: LocalStore, corpus: dict[str, Memory]
) -> None:
    everything = MemoryFilter(all_projects=True)
    # Cosines with axis 0: exact 1.0, close 0.894, global 0.707, far 0.447, orthogonal 0.0.
    assert contents(store.nearest(axis(0), everything, min_similarity=0.5)) == [
        "exact",
        "close",
        "global",
    ]
    assert contents(store.nearest(axis(0), everything, min_similarity=0.0)) == [
        "exact",
        "close",
        "global",
        "far",
        "orthogonal",
    ]
    assert store.nearest(axis(1, scale=-1.0), everything, min_similarity=0.01) == []
