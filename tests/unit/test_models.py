"""The vocabulary's rules: what is accepted, what is refused, and what the refusal says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from pydantic import BaseModel, ValidationError

from memvault.models import (
    MAX_CONTENT_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    Memory,
    MemoryCreate,
    MemoryFilter,
    MemoryType,
    MemoryUpdate,
    content_hash,
    describe_errors,
)

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)


def stored(**overrides: Any) -> dict[str, Any]:
    """A valid stored-memory payload, with overrides."""
    base: dict[str, Any] = {
        "id": str(uuid4()),
        "content": "we chose SQLite for the local store",
        "memory_type": "strategic",
        "created_at": NOW.isoformat(),
        "updated_at": NOW.isoformat(),
        "content_hash": content_hash("we chose SQLite for the local store"),
    }
    return {**base, **overrides}


def problems(model: type[BaseModel], data: dict[str, Any]) -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return describe_errors(caught.value)


REFUSED = [
    # (model, input, field named, fragment of the rule)
    (MemoryCreate, {"content": ""}, "content", "at least 1 character"),
    (MemoryCreate, {"content": "x" * (MAX_CONTENT_CHARS + 1)}, "content", "at most 50000"),
    (MemoryCreate, {"content": " \n\t "}, "content", "more than whitespace"),
    (MemoryCreate, {}, "content", "Field required"),
    (MemoryCreate, {"content": "a", "importance": -0.01}, "importance", "greater than or equal"),
    (MemoryCreate, {"content": "a", "importance": 1.01}, "importance", "less than or equal to 1"),
    (MemoryCreate, {"content": "a", "importance": "high"}, "importance", "valid number"),
    (MemoryCreate, {"content": "a", "memory_type": "opinion"}, "memory_type", "'episodic'"),
    (MemoryCreate, {"content": "a", "scope": "team"}, "scope", "'project' or 'global'"),
    (MemoryCreate, {"content": "a", "tags": ["ok", "  "]}, "tags", "must not be empty"),
    (
        MemoryCreate,
        {"content": "a", "tags": ["x" * (MAX_TAG_CHARS + 1)]},
        "tags",
        f"at most {MAX_TAG_CHARS} characters",
    ),
    (
        MemoryCreate,
        {"content": "a", "tags": [f"t{i}" for i in range(MAX_TAGS + 1)]},
        "tags",
        f"at most {MAX_TAGS} tags",
    ),
    (MemoryCreate, {"content": "a", "tags": "auth"}, "tags", "valid list"),
    (MemoryCreate, {"content": "a", "project_id": "my project"}, "project_id", "match pattern"),
    (MemoryCreate, {"content": "a", "project_id": "a\\\\b"}, "project_id", "match pattern"),
    (MemoryCreate, {"content": "a", "session_id": "a/b"}, "session_id", "match pattern"),
    (MemoryCreate, {"content": "a", "colour": "red"}, "colour", "Extra inputs"),
    (Memory, stored(id="not-a-uuid"), "id", "valid UUID"),
    (Memory, stored(sync_version=0), "sync_version", "greater than or equal to 1"),
    (Memory, stored(created_at="2026-01-31T12:00:00"), "created_at", "timezone offset"),
    (Memory, stored(updated_at=datetime(2026, 1, 31, 12)), "updated_at", "timezone offset"),
    (Memory, stored(deleted_at="2026-01-31T12:00:00"), "deleted_at", "timezone offset"),
    (Memory, stored(memory_type="gossip"), "memory_type", "'episodic'"),
    (Memory, stored(content="x" * (MAX_CONTENT_CHARS + 1)), "content", "at most 50000"),
    (Memory, stored(embedding=[0.1, 0.2], embedding_dim=3), "body", "embedding_dim must equal"),
    (MemoryUpdate, {}, "body", "at least one field"),
    (MemoryUpdate, {"content": None}, "content", "must not be null"),
    (MemoryUpdate, {"importance": None}, "importance", "must not be null"),
    (MemoryUpdate, {"tags": None}, "tags", "must not be null"),
    (MemoryUpdate, {"content": "   "}, "content", "more than whitespace"),
    (MemoryUpdate, {"importance": 2}, "importance", "less than or equal to 1"),
    (MemoryUpdate, {"memory_type": "rumour"}, "memory_type", "'episodic'"),
    (MemoryUpdate, {"id": str(uuid4())}, "id", "Extra inputs"),
    (
        MemoryFilter,
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        "until",
        "must not be earlier than since",
    ),
    (MemoryFilter, {"since": "2026-01-01T00:00:00"}, "since", "timezone offset"),
    (MemoryFilter, {"limit": 0}, "limit", "greater than or equal to 1"),
    (MemoryFilter, {"limit": 1001}, "limit", "less than or equal to 1000"),
    (MemoryFilter, {"memory_type": "nope"}, "memory_type", "'episodic'"),
]


@pytest.mark.parametrize(
    ("model", "data", "field", "fragment"),
    REFUSED,
    ids=[f"{case[0].__name__}-{case[2]}-{case[3][:24]}" for case in REFUSED],
)
def test_refusal_names_the_field_and_the_rule(
    model: type[BaseModel], data: dict[str, Any], field: str, fragment: str
) -> None:
    described = problems(model, data)
    matching = [p for p in described if p["field"] == field]
    assert any(fragment in p["message"] for p in matching), described
    assert not any(p["message"].startswith("Value error") for p in described)


@pytest.mark.parametrize("length", [1, MAX_CONTENT_CHARS])
def test_content_at_the_limits_is_accepted(length: int) -> None:
    assert len(MemoryCreate(content="x" * length).content) == length
    assert len(Memory.model_validate(stored(content="y" * length)).content) == length


@pytest.mark.parametrize("importance", [0, 0.0, 0.5, 1, 1.0])
def test_importance_bounds_are_inclusive(importance: float) -> None:
    assert MemoryCreate(content="a", importance=importance).importance == importance


@pytest.mark.parametrize("memory_type", list(MemoryType))
def test_every_memory_type_is_accepted(memory_type: MemoryType) -> None:
    assert MemoryCreate(content="a", memory_type=memory_type.value).memory_type is memory_type


def test_create_defaults() -> None:
    created = MemoryCreate(content="a")
    assert created.memory_type is MemoryType.SEMANTIC
    assert created.importance == 0.5
    assert created.tags == []
    assert created.scope == "project"


def test_content_keeps_its_whitespace() -> None:
    assert MemoryCreate(content="  indented\n").content == "  indented\n"


def test_tags_are_trimmed_lowercased_and_deduplicated_in_order() -> None:
    created = MemoryCreate(content="a", tags=[" Auth ", "DB", "auth", "db ", "Cache"])
    assert created.tags == ["auth", "db", "cache"]


def test_tag_limit_counts_distinct_tags() -> None:
    exactly = [f"t{i}" for i in range(MAX_TAGS)]
    assert MemoryCreate(content="a", tags=exactly + [t.upper() for t in exactly]).tags == exactly
    assert MemoryCreate(content="a", tags=["x" * MAX_TAG_CHARS]).tags == ["x" * MAX_TAG_CHARS]


def test_filter_tags_are_normalised_like_memory_tags() -> None:
    assert MemoryFilter(tags=[" Auth", "AUTH", "db"]).tags == ["auth", "db"]


def test_stored_sync_version_starts_at_one() -> None:
    assert Memory.model_validate(stored()).sync_version == 1
    assert Memory.model_validate(stored(sync_version=7)).sync_version == 7


def test_datetimes_with_an_offset_are_converted_to_utc() -> None:
    memory = Memory.model_validate(stored(created_at="2026-01-31T14:00:00+02:00"))
    assert memory.created_at == NOW
    assert memory.created_at.utcoffset() == timedelta(0)
    flt = MemoryFilter(since=datetime(2026, 1, 31, 7, tzinfo=timezone(timedelta(hours=-5))))
    assert flt.since == NOW


def test_filter_accepts_an_empty_range() -> None:
    flt = MemoryFilter(since=NOW, until=NOW)
    assert flt.since == flt.until == NOW


def test_update_reports_only_the_fields_it_sets() -> None:
    assert MemoryUpdate(importance=0.9).changes() == {"importance": 0.9}
    # task_id may be cleared with an explicit null, unlike the fields a memory cannot lack.
    assert MemoryUpdate.model_validate({"task_id": None}).changes() == {"task_id": None}


def test_embedding_must_match_its_dimension() -> None:
    memory = Memory.model_validate(stored(embedding=[0.1, 0.2, 0.3], embedding_dim=3))
    assert memory.embedding_dim == 3


def test_content_hash_is_sha256_of_utf8() -> None:
    # SHA-256("abc") from FIPS 180-2, appendix B.1.
    assert content_hash("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert content_hash("é") != content_hash("e")


def test_every_problem_is_reported_at_once() -> None:
    described = problems(MemoryCreate, {"content": "", "importance": 3, "memory_type": "x"})
    assert {p["field"] for p in described} == {"content", "importance", "memory_type"}
    assert not any(p["message"].startswith("Value error") for p in described)
