"""Remote queries against the real Neo4j: the local store's filters, answered from the replica.

The corpus below is written to the replica (apply + apply_context) and, for the parity checks, to
a real local store; remote answers must equal the local ones filter by filter.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from memvault.config import Settings
from memvault.errors import InvalidInputError
from memvault.models import (
    Memory,
    MemoryFilter,
    MemoryType,
    Operation,
    Project,
    Scope,
    Session,
    SessionFilter,
    content_hash,
)
from memvault.ranking import fuse
from memvault.remote.neo4j import Neo4jReplica
from memvault.remote.protocol import Change
from memvault.remote.queries import Neo4jQueries
from memvault.remote.schema import DEFAULT_VECTOR_DIMENSIONS
from memvault.store import LocalStore
from memvault.store.rows import to_db_time

from .neo4j_server import Neo4jServer, query, with_replica

T = TypeVar("T")
DIMS = DEFAULT_VECTOR_DIMENSIONS  # the wipe fixture's vector index size
T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
HOSTILE = ['") OR 1=1 //', "AND", "*", "content:x", '"unbalanced', "\\", "a~2^3 [x TO y]", "_"]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def axis(*weights: tuple[int, float]) -> list[float]:
    """A DIMS-long vector with the given (index, weight) entries, zero elsewhere."""
    vector = [0.0] * DIMS
    for index, weight in weights:
        vector[index] = weight
    return vector


def memory(content: str, project: str, session: str, at: float, **fields: Any) -> Memory:
    agent = {"sa": "claude", "sb": "codex", "sc": "claude"}.get(session)
    vector = fields.pop("vector", None)
    return Memory(
        id=uuid4(),
        event_id=uuid4(),
        content=content,
        memory_type=fields.pop("memory_type", MemoryType.SEMANTIC),
        project_id=project,
        session_id=session,
        source=agent,
        created_at=day(at),
        updated_at=day(at),
        content_hash=content_hash(content),
        embedding=vector,
        embedding_dim=len(vector) if vector else None,
        **fields,
    )


def corpus() -> dict[str, Memory]:
    return {
        "a1": memory(
            "Authentication uses rotating JWT", "alpha", "sa", 1,
            tags=["auth", "security"], memory_type=MemoryType.STRATEGIC, vector=axis((1, 1.0)),
        ),
        "a2": memory(
            "authentication sessions expire after thirty minutes", "alpha", "sa", 2,
            tags=["auth"], vector=axis((2, 1.0)),
        ),
        "a3": memory(
            "rate limiting pattern: a token bucket per client and route", "alpha", "sb", 3,
            tags=["api"], memory_type=MemoryType.PROCEDURAL, vector=axis((3, 1.0)),
        ),
        "b1": memory(
            "Authentication through the OAuth device code flow", "beta", "sc", 4, tags=["auth"]
        ),
        "g1": memory(
            "API rate limiting pattern: back off with full jitter", "beta", "sc", 5,
            tags=["api", "pattern"], scope=Scope.GLOBAL, vector=axis((5, 1.0)),
        ),
        "d1": memory("authentication secret leaked, rotate it", "alpha", "sb", 6, tags=["auth"]),
        "v1": memory("the quokka mascot: see x in docs", "alpha", "sb", 7, vector=axis((7, 1.0))),
    }  # fmt: skip


SESSIONS = [
    Session(id="sa", project_id="alpha", started_at=day(0.5), agent="claude"),
    Session(id="sb", project_id="alpha", started_at=day(2.5), agent="codex", previous_id="sa"),
    Session(id="sc", project_id="beta", started_at=day(3.5), agent="claude"),
]
PROJECTS = [
    Project(id="alpha", name="Alpha", created_at=day(0)),
    Project(id="empty", name="empty", created_at=day(0)),
]


def load(settings: Settings, store: LocalStore | None = None) -> dict[str, Memory]:
    """The corpus on the replica (d1 deleted in a second version) and, if given, in `store`."""
    found = corpus()
    changes = [Change(Operation.CREATE, m, "test") for m in found.values()]
    found["d1"] = found["d1"].model_copy(
        update={"deleted_at": day(8), "updated_at": day(8), "sync_version": 2, "event_id": uuid4()}
    )
    changes.append(Change(Operation.DELETE, found["d1"], "test"))

    async def write(replica: Neo4jReplica) -> None:
        await replica.apply(changes)
        await replica.apply_context(SESSIONS, PROJECTS)

    with_replica(settings, write)
    query(settings, "CALL db.awaitIndexes(60)", write=True)  # a freshly made index populates
    if store is not None:
        store.put_replicated(list(found.values()))
    return found


def remote(settings: Settings, work: Callable[[Neo4jQueries], Awaitable[T]]) -> T:
    return with_replica(settings, lambda replica: work(Neo4jQueries(replica)))


def search_ids(
    settings: Settings, text: str, flt: MemoryFilter, vector: list[float] | None = None
) -> list[str]:
    hits = remote(settings, lambda q: q.search_memories(text, vector, flt))
    return [str(hit.memory.id) for hit in hits]


@pytest.fixture
def settings(empty_replica: Neo4jServer, tmp_path: Path) -> Settings:
    return empty_replica.settings(tmp_path / "home")


def list_ids(settings: Settings, flt: MemoryFilter) -> list[str]:
    return [str(m.id) for m in remote(settings, lambda q: q.list_memories(flt))]


def names(found: dict[str, Memory], ids: list[str]) -> set[str]:
    by_id = {str(m.id): key for key, m in found.items()}
    return {by_id[i] for i in ids}


def test_each_filter_narrows_a_keyword_search(settings: Settings) -> None:
    found = load(settings)
    auth = [
        (MemoryFilter(), {"a1", "a2", "b1"}),
        (MemoryFilter(project_id="alpha"), {"a1", "a2"}),
        (MemoryFilter(project_id="alpha", all_projects=True), {"a1", "a2", "b1"}),
        (MemoryFilter(include_deleted=True), {"a1", "a2", "b1", "d1"}),
        (MemoryFilter(session_id="sb", include_deleted=True), {"d1"}),
        (MemoryFilter(memory_type=MemoryType.STRATEGIC), {"a1"}),
        (MemoryFilter(tags=["auth", "security"]), {"a1"}),
        (MemoryFilter(since=day(2), until=day(4)), {"a2", "b1"}),  # both ends inclusive
        (MemoryFilter(limit=1), {"a1"}),  # the shortest text with the word ranks first
    ]
    for flt, expected in auth:
        assert names(found, search_ids(settings, "authentication", flt)) == expected, flt
    # A global memory of project beta surfaces in alpha; beta's project memories stay there.
    rate = "rate limiting pattern"
    assert names(found, search_ids(settings, rate, MemoryFilter(project_id="alpha"))) == {
        "a3",
        "g1",
    }
    assert names(found, search_ids(settings, rate, MemoryFilter(project_id="beta"))) == {"g1"}
    assert search_ids(settings, "   ", MemoryFilter()) == []
    # Query syntax in user text is taken as literal words: a bare `AND` (a parse error as
    # Lucene syntax) is the word "and", a stop word of the english analyzer: no hits, no error.
    for text in HOSTILE:
        search_ids(settings, text, MemoryFilter())
    assert search_ids(settings, "AND", MemoryFilter()) == []
    # The analyzer stems, as the local FTS5 does: "rotate" finds "rotating".
    assert names(found, search_ids(settings, "rotate", MemoryFilter())) == {"a1"}
    assert names(found, search_ids(settings, "content:x", MemoryFilter())) == {"v1"}


FILTERS = [
    MemoryFilter(),
    MemoryFilter(project_id="alpha"),
    MemoryFilter(project_id="beta"),
    MemoryFilter(project_id="beta", all_projects=True),
    MemoryFilter(session_id="sa"),
    MemoryFilter(memory_type=MemoryType.PROCEDURAL),
    MemoryFilter(tags=["auth"]),
    MemoryFilter(tags=["api", "pattern"]),
    MemoryFilter(since=day(2), until=day(5)),
    MemoryFilter(include_deleted=True),
    MemoryFilter(project_id="alpha", include_deleted=True, since=day(3)),
]


def test_remote_answers_equal_the_local_store(settings: Settings, tmp_path: Path) -> None:
    store = LocalStore.open(tmp_path / "local.db")
    try:
        load(settings, store)
        # Stop words are the one known difference: the english analyzer drops "and", "a" and
        # "to"; FTS5 keeps them. The texts made of them are checked for errors above.
        texts = ["authentication", "rate limiting pattern", "JWT quokka", "rotate"]
        texts += [text for text in HOSTILE if text not in ("AND", "a~2^3 [x TO y]")]
        found_any = 0
        for flt in FILTERS:
            limited = flt.model_copy(update={"limit": 2})
            for each in (flt, limited):
                assert list_ids(settings, each) == [str(m.id) for m in store.list(each)], each
            for text in texts:
                local = {str(hit.memory.id) for hit in store.search(text, flt)}
                # BM25 and Lucene may order ties differently: compare what was found.
                assert set(search_ids(settings, text, flt)) == local, (text, flt)
                found_any += bool(local)
        assert found_any > len(FILTERS) * 3  # the comparisons are not of empty answers
    finally:
        store.close()


def test_vector_search_finds_by_meaning_fuses_and_checks_the_vector(settings: Settings) -> None:
    found = load(settings)
    hits = remote(
        settings, lambda q: q.search_memories("marsupial", axis((7, 1.0)), MemoryFilter())
    )
    assert hits[0].memory.id == found["v1"].id  # shares no word with the query
    assert (hits[0].keyword_rank, hits[0].vector_rank) == (None, 1)

    near_a2 = axis((2, 1.0), (3, 0.5))  # then a3; the rest are orthogonal
    hybrid = remote(
        settings, lambda q: q.search_memories("authentication", near_a2, MemoryFilter())
    )
    by_words = remote(settings, lambda q: q.search_memories("authentication", None, MemoryFilter()))
    by_vector = remote(settings, lambda q: q.search_memories("", near_a2, MemoryFilter()))
    # Hybrid is the reciprocal-rank fusion of the two lists the indexes give on their own.
    expected = fuse([h.memory for h in by_words], [h.memory for h in by_vector], 20)
    assert [(h.memory.id, h.keyword_rank, h.vector_rank) for h in hybrid] == [
        (h.memory.id, h.keyword_rank, h.vector_rank) for h in expected
    ]
    a2 = next(h for h in hybrid if h.memory.id == found["a2"].id)
    assert (a2.vector_rank, a2.keyword_rank is not None) == (1, True)
    assert a2.score == max(h.score for h in hybrid)

    # Filters hold on the vector side too: v1 is alpha's, a project-scoped memory.
    beta = remote(
        settings, lambda q: q.search_memories("", axis((7, 1.0)), MemoryFilter(project_id="beta"))
    )
    assert names(found, [str(h.memory.id) for h in beta]) == {"g1"}  # b1 has no embedding

    # A query vector the index cannot take is the caller's error, named, not a driver failure.
    for vector, message in [([0.5] * 3, "has 3 dimensions.*384"), ([0.0] * DIMS, "all zeros")]:
        with pytest.raises(InvalidInputError, match=message) as caught:
            search_ids(settings, "x", MemoryFilter(), vector=vector)
        assert caught.value.problems[0]["field"] == "vector"


def test_a_selective_filter_widens_the_candidate_search(settings: Settings) -> None:
    # 120 short, close matches in one project outrank the one match in another: the first
    # round of candidates (100) holds none of it, so the search must ask again for more.
    noise = [memory("widget", "noise", "sn", 1, vector=axis((0, 1.0))) for _ in range(120)]
    filler = " ".join(f"word{i}" for i in range(40))
    target = memory(f"widget {filler}", "target", "st", 2, vector=axis((0, 1.0), (9, 1.0)))
    with_replica(
        settings, lambda r: r.apply([Change(Operation.CREATE, m, "t") for m in [*noise, target]])
    )
    flt = MemoryFilter(project_id="target", limit=1)
    assert search_ids(settings, "widget", flt) == [str(target.id)]
    assert search_ids(settings, "", flt, vector=axis((0, 1.0))) == [str(target.id)]


def test_sessions_are_listed_filtered_and_shown_with_their_memories(settings: Settings) -> None:
    found = load(settings)

    def listed(flt: SessionFilter) -> list[tuple[str, int]]:
        sessions = remote(settings, lambda q: q.list_sessions(flt))
        return [(s.id, s.memory_count) for s in sessions]

    # Counts include the tombstone d1: every memory made in the session.
    assert listed(SessionFilter()) == [("sc", 2), ("sb", 3), ("sa", 2)]
    assert listed(SessionFilter(project_id="alpha")) == [("sb", 3), ("sa", 2)]
    assert listed(SessionFilter(agent="claude")) == [("sc", 2), ("sa", 2)]
    assert listed(SessionFilter(since=day(0.5), until=day(2.5))) == [("sb", 3), ("sa", 2)]
    assert listed(SessionFilter(limit=1)) == [("sc", 2)]

    detail = remote(settings, lambda q: q.get_session("sb"))
    assert detail is not None
    assert detail.session.started_at == day(2.5)  # the real start, before its first memory
    assert (detail.session.previous_id, detail.session.agent) == ("sa", "codex")
    assert [m.id for m in detail.memories] == [found["a3"].id, found["v1"].id]  # oldest first
    assert remote(settings, lambda q: q.get_session("no-such-session")) is None


def test_projects_are_listed_with_counts_and_last_activity(settings: Settings) -> None:
    load(settings)
    projects = remote(settings, lambda q: q.list_projects())
    summary = [(p.id, p.name, p.memory_count, p.session_count, p.last_active_at) for p in projects]
    # alpha: a1, a2, a3, v1 live; its last activity is d1's deletion. No memories: listed last.
    assert summary == [
        ("alpha", "Alpha", 4, 2, day(8)),
        ("beta", "beta", 2, 1, day(5)),
        ("empty", "empty", 0, 0, None),
    ]


GRAPH = """
MATCH (n) WHERE n:Session OR n:Project
RETURN n {.*} AS props, [(n)-[r:FOLLOWED_BY|PART_OF]->(o) | [type(r), o.id]] AS links
"""


def test_apply_context_upserts_coalesces_chains_and_is_idempotent(settings: Settings) -> None:
    def apply(sessions: list[Session], projects: list[Project]) -> dict[str, Any]:
        """Apply, then return the graph of sessions and projects: id -> (props, links)."""
        with_replica(settings, lambda r: r.apply_context(sessions, projects))
        return {
            row["props"]["id"]: (row["props"], sorted(map(tuple, row["links"])))
            for row in query(settings, GRAPH)
        }

    # 1. A session naming a previous session and a project the replica has never seen: both
    #    appear as stubs whose times are upper bounds (this session's start), in the project.
    s2 = Session(id="s2", project_id="p", started_at=day(2), previous_id="s1")
    at = to_db_time(day(2))
    graph = apply([s2], [])
    assert graph["p"] == ({"id": "p", "name": "p", "created_at": at}, [])
    stub = {"id": "s1", "project_id": "p", "started_at": at}
    assert graph["s1"] == (stub, [("FOLLOWED_BY", "s2"), ("PART_OF", "p")])
    assert graph["s2"][1] == [("PART_OF", "p")]

    # 2. The real copies arrive: earlier times win, nulls are filled, a real name replaces the
    #    default one.
    s1 = Session(id="s1", project_id="p", started_at=day(1), agent="claude")
    ended = s2.model_copy(
        update={"ended_at": day(3), "summary": "chose JWT", "last_active_at": day(3),
                "started_at": day(5), "memory_count": 4}
    )  # fmt: skip
    project = Project(id="p", name="Project P", description="the p project", created_at=day(0))
    after = apply([s1, ended], [project])
    assert after["p"][0] == {**project.model_dump(), "created_at": to_db_time(day(0))}
    assert after["s2"][0] == {
        **ended.model_dump(exclude_none=True),
        "started_at": at,  # the earlier start stays
        "ended_at": to_db_time(day(3)),
        "last_active_at": to_db_time(day(3)),
    }

    # 3. A stale copy (nulls, a later start, an older activity, a lower count, the default
    #    name) changes nothing; neither does a replay or an empty call.
    stale = s2.model_copy(update={"last_active_at": day(2.5), "memory_count": 1})
    assert apply([stale], [Project(id="p", name="p", created_at=day(4))]) == after
    assert apply([s1, ended], [project]) == after
    assert apply([], []) == after

    sessions, projects = with_replica(settings, lambda r: r.export_context())
    assert projects == [project]
    # Exports count the memories linked to a session (none here).
    assert sessions == [
        s1,
        ended.model_copy(update={"started_at": day(2), "memory_count": 0}),
    ]

    # 4. A session has one predecessor: naming another one moves the link.
    moved = apply([s2.model_copy(update={"previous_id": "s0"})], [])
    assert moved["s1"][1] == [("PART_OF", "p")]
    assert moved["s0"][1] == [("FOLLOWED_BY", "s2"), ("PART_OF", "p")]
