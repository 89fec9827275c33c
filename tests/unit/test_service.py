"""MemoryService: remember, read, change, forget and find, with a clock the tests move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from manual_clock import ManualClock as Clock
from memvault.errors import InvalidInputError, NotFoundError
from memvault.models import Memory, MemoryType, content_hash
from memvault.service import MemoryService, parse_id
from memvault.store import LocalStore

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def svc(store: LocalStore, clock: Clock) -> MemoryService:
    return MemoryService(store, clock=clock)


def remember_at(svc: MemoryService, clock: Clock, content: str, **fields: Any) -> Memory:
    """Remember one memory a minute after the previous one, so order is by creation."""
    clock.advance(minutes=1)
    return svc.remember({"content": content, **fields})


# -- remember / get / update ---------------------------------------------------------------------


def test_remember_stamps_id_times_version_and_hash(svc: MemoryService, clock: Clock) -> None:
    memory = svc.remember({"content": "use ruff for lint", "memory_type": "procedural"})
    assert memory.id.version == 4
    assert memory.created_at == memory.updated_at == T0
    assert memory.sync_version == 1
    assert memory.sync_status == "pending"
    assert memory.content_hash == content_hash("use ruff for lint")
    assert memory.memory_type is MemoryType.PROCEDURAL
    assert memory.deleted_at is None
    assert svc.get(str(memory.id)) == memory


def test_default_project_applies_only_when_none_is_given(store: LocalStore) -> None:
    svc = MemoryService(store, default_project="home")
    assert svc.remember({"content": "a"}).project_id == "home"
    assert svc.remember({"content": "b", "project_id": "work"}).project_id == "work"


def test_bad_input_is_refused_by_field_and_stores_nothing(svc: MemoryService) -> None:
    with pytest.raises(InvalidInputError) as caught:
        svc.remember({"content": "", "importance": 7, "memory_type": "vibe"})
    fields = {p["field"] for p in caught.value.problems}
    assert fields == {"content", "importance", "memory_type"}
    assert "importance:" in str(caught.value)
    assert svc.stats().total == 0
    assert svc.store.outbox_size() == 0


def test_update_bumps_version_hash_and_time(svc: MemoryService, clock: Clock) -> None:
    original = svc.remember({"content": "cache for 5 minutes", "tags": ["cache"]})
    later = clock.advance(hours=2)

    updated = svc.update(original.id, {"content": "cache for 10 minutes"})

    assert updated.sync_version == 2
    assert updated.content_hash == content_hash("cache for 10 minutes")
    assert updated.content_hash != original.content_hash
    assert updated.updated_at == later
    assert updated.created_at == T0
    assert updated.tags == ["cache"]
    assert updated.importance == original.importance
    assert svc.get(original.id) == updated


def test_update_without_content_keeps_the_hash_but_still_bumps_the_version(
    svc: MemoryService,
) -> None:
    original = svc.remember({"content": "same words"})
    updated = svc.update(original.id, {"importance": 0.9, "tags": ["Later"]})
    assert (updated.sync_version, updated.importance, updated.tags) == (2, 0.9, ["later"])
    assert updated.content_hash == original.content_hash
    assert svc.update(original.id, {"task_id": None}).sync_version == 3


@pytest.mark.parametrize("change", [{}, {"content": None}, {"content": "  "}, {"id": "x"}])
def test_invalid_update_changes_nothing(svc: MemoryService, change: dict[str, Any]) -> None:
    original = svc.remember({"content": "stable"})
    with pytest.raises(InvalidInputError):
        svc.update(original.id, change)
    assert svc.get(original.id) == original
    assert svc.store.outbox_size() == 1


def test_unknown_ids_are_not_found(svc: MemoryService) -> None:
    unknown = uuid4()
    with pytest.raises(NotFoundError, match=str(unknown)):
        svc.get(unknown)
    with pytest.raises(NotFoundError):
        svc.update(unknown, {"content": "x"})
    with pytest.raises(NotFoundError):
        svc.forget(str(unknown))
    assert svc.store.outbox_size() == 0


@pytest.mark.parametrize("bad_id", ["", "42", "not-a-uuid", "6f1c0c1e-0000-0000-0000"])
def test_invalid_ids_are_input_errors_naming_the_id(svc: MemoryService, bad_id: str) -> None:
    for call in (
        lambda: svc.get(bad_id),
        lambda: svc.update(bad_id, {"content": "x"}),
        lambda: svc.forget(bad_id),
    ):
        with pytest.raises(InvalidInputError) as caught:
            call()
        assert caught.value.problems[0]["field"] == "id"
        assert "not a valid UUID" in caught.value.problems[0]["message"]


def test_parse_id_accepts_any_spelling_of_a_uuid() -> None:
    value = uuid4()
    assert parse_id(str(value).upper()) == value
    assert parse_id(value) == value


def test_forget_stamps_the_tombstone_with_the_clock(svc: MemoryService, clock: Clock) -> None:
    memory = svc.remember({"content": "temporary"})
    when = clock.advance(days=1)
    forgotten = svc.forget(memory.id)
    assert (forgotten.deleted_at, forgotten.updated_at, forgotten.sync_version) == (when, when, 2)


# -- search ---------------------------------------------------------------------------------------


def test_search_finds_by_words_and_ranks_the_better_match_first(
    svc: MemoryService, clock: Clock
) -> None:
    weak = remember_at(
        svc,
        clock,
        "Lunch notes: the cafeteria menu lists soup, bread, salad, pasta and, in a footnote "
        "about the ordering kiosk, that it keeps its menu in SQLite.",
    )
    strong = remember_at(svc, clock, "SQLite WAL mode lets SQLite readers and writers overlap.")
    remember_at(svc, clock, "Deploys go out on Tuesdays.")

    hits = svc.search("sqlite wal mode")

    assert [h.memory.id for h in hits] == [strong.id, weak.id]
    assert hits[0].score > hits[1].score


def test_search_matches_word_forms_and_tags(svc: MemoryService, clock: Clock) -> None:
    decided = remember_at(svc, clock, "We decided to pin the driver version", tags=["neo4j"])
    assert [h.memory.id for h in svc.search("decide")] == [decided.id]
    assert [h.memory.id for h in svc.search("NEO4J")] == [decided.id]


def test_search_ignores_words_that_carry_no_topic(svc: MemoryService, clock: Clock) -> None:
    rotation = remember_at(svc, clock, "Refresh tokens rotate on every use")
    remember_at(svc, clock, "What we do on Fridays: how the on-call hands over")
    # "what", "do", "we", "how", "the" match the second note; only "tokens" is about anything.
    assert [h.memory.id for h in svc.search("what do we do with the tokens", mode="keyword")] == [
        rotation.id
    ]
    # A query made only of such words is taken as it is, not refused or emptied.
    assert len(svc.search("what do we do", mode="keyword")) == 1


@pytest.mark.parametrize(
    "query",
    [
        'auth -- OR "',
        '"auth unbalanced',
        "auth AND NOT",
        "NEAR(auth token, 2)",
        "content:auth",
        "auth*",
        "^auth",
        "(auth) OR (",
        "auth; DROP TABLE memories; --",
        "tokén/auth\x00",
    ],
)
def test_search_treats_query_syntax_as_plain_words(svc: MemoryService, query: str) -> None:
    auth = svc.remember({"content": "auth tokens expire after an hour"})
    svc.remember({"content": "unrelated"})
    hits = svc.search(query)
    assert [h.memory.id for h in hits] == [auth.id]
    assert svc.stats().total == 2


@pytest.mark.parametrize("query", ["--", '"', "*", "()", ":"])
def test_search_for_punctuation_only_finds_nothing(svc: MemoryService, query: str) -> None:
    svc.remember({"content": "-- * () : punctuation heavy"})
    assert svc.search(query) == []


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_search_is_an_input_error(svc: MemoryService, query: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        svc.search(query)
    assert caught.value.problems == [{"field": "query", "message": "query must not be empty"}]


def test_search_index_follows_updates(svc: MemoryService) -> None:
    memory = svc.remember({"content": "staging runs on kubernetes", "tags": ["infra"]})
    svc.update(memory.id, {"content": "staging runs on nomad", "tags": ["platform"]})
    assert svc.search("kubernetes") == []
    assert svc.search("infra") == []
    assert [h.memory.id for h in svc.search("nomad")] == [memory.id]
    assert [h.memory.id for h in svc.search("platform")] == [memory.id]
    assert [h.memory.content for h in svc.search("staging")] == ["staging runs on nomad"]


# -- filters (shared by list and search) ---------------------------------------------------------


@pytest.fixture
def corpus(svc: MemoryService, clock: Clock) -> dict[str, Memory]:
    """Five memories about releases, a minute apart, across projects, sessions and types."""
    specs: dict[str, dict[str, Any]] = {
        "alpha_1": {"project_id": "alpha", "session_id": "s1", "tags": ["ci", "python"]},
        "alpha_2": {"project_id": "alpha", "session_id": "s2", "tags": ["ci"]},
        "beta_1": {"project_id": "beta", "session_id": "s3", "memory_type": "procedural"},
        "global": {"project_id": "beta", "scope": "global", "tags": ["python"]},
        "loose": {"memory_type": "episodic", "tags": ["python", "ci"]},
    }
    return {
        name: remember_at(svc, clock, f"release checklist {name}", **fields)
        for name, fields in specs.items()
    }


def names(corpus: dict[str, Memory], memories: list[Memory]) -> list[str]:
    by_id = {m.id: name for name, m in corpus.items()}
    return [by_id[m.id] for m in memories]


FILTERS = [
    ({"project_id": "alpha"}, {"alpha_1", "alpha_2", "global"}),
    ({"project_id": "beta"}, {"beta_1", "global"}),
    ({"project_id": "gamma"}, {"global"}),
    ({"session_id": "s2"}, {"alpha_2"}),
    ({"memory_type": "procedural"}, {"beta_1"}),
    ({"memory_type": "semantic"}, {"alpha_1", "alpha_2", "global"}),
    ({"tags": ["ci"]}, {"alpha_1", "alpha_2", "loose"}),
    ({"tags": ["CI", "python"]}, {"alpha_1", "loose"}),
    ({"tags": ["ci", "python", "rust"]}, set()),
    ({"project_id": "alpha", "tags": ["python"]}, {"alpha_1", "global"}),
    ({"since": T0 + timedelta(minutes=3)}, {"beta_1", "global", "loose"}),
    ({"until": T0 + timedelta(minutes=2)}, {"alpha_1", "alpha_2"}),
    ({"since": T0 + timedelta(minutes=2), "until": T0 + timedelta(minutes=2)}, {"alpha_2"}),
    ({"since": "2026-01-10T10:04:00+02:00"}, {"global", "loose"}),
]


@pytest.mark.parametrize(("flt", "expected"), FILTERS)
def test_filters_apply_to_list_and_search(
    svc: MemoryService, corpus: dict[str, Memory], flt: dict[str, Any], expected: set[str]
) -> None:
    assert set(names(corpus, svc.list(flt))) == expected
    assert set(names(corpus, [h.memory for h in svc.search("release", flt)])) == expected


def test_list_is_newest_first_and_limited(svc: MemoryService, corpus: dict[str, Memory]) -> None:
    assert names(corpus, svc.list()) == ["loose", "global", "beta_1", "alpha_2", "alpha_1"]
    assert names(corpus, svc.list({"limit": 2})) == ["loose", "global"]
    assert len(svc.search("checklist", {"limit": 3})) == 3


def test_invalid_filter_is_an_input_error(svc: MemoryService) -> None:
    with pytest.raises(InvalidInputError) as caught:
        svc.list({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"})
    assert caught.value.problems[0]["field"] == "until"
    with pytest.raises(InvalidInputError) as caught:
        svc.search("x", {"limit": 0})
    assert caught.value.problems[0]["field"] == "limit"


# -- stats ----------------------------------------------------------------------------------------


def test_stats_counts_live_memories_tombstones_and_queue(
    svc: MemoryService, clock: Clock, corpus: dict[str, Memory]
) -> None:
    when = clock.advance(hours=1)
    svc.forget(corpus["beta_1"].id)
    svc.update(corpus["loose"].id, {"importance": 1})

    stats = svc.stats()

    assert (stats.total, stats.deleted) == (4, 1)
    assert stats.by_type == {"semantic": 3, "episodic": 1}
    assert stats.by_project == {"alpha": 2, "beta": 1, "": 1}
    assert stats.pending_sync == 7
    assert stats.last_write_at == when


def test_stats_of_an_empty_store(svc: MemoryService) -> None:
    stats = svc.stats()
    assert (stats.total, stats.deleted, stats.pending_sync) == (0, 0, 0)
    assert (stats.by_type, stats.by_project, stats.last_write_at) == ({}, {}, None)
