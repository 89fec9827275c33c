"""The session-start briefing: which session counts as the previous one, which memories are key,
and the text an agent reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from manual_clock import ManualClock as Clock
from memvault.context.briefing import as_text
from memvault.errors import InvalidInputError
from memvault.service import MemoryService
from memvault.store import LocalStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def svc(store: LocalStore, clock: Clock, tmp_path: Path) -> MemoryService:
    return MemoryService(
        store, clock=clock, default_project="shop", session_file=tmp_path / "session-id"
    )


def remember(svc: MemoryService, clock: Clock, content: str, importance: float = 0.5) -> str:
    clock.advance(minutes=1)
    return str(svc.remember({"content": content, "importance": importance}).id)


def test_previous_session_and_key_memories(svc: MemoryService, clock: Clock) -> None:
    svc.start_session({"session_id": "first", "agent": "claude-code"})
    old = remember(svc, clock, "Use SQLite in WAL mode", importance=0.9)
    svc.end_session(data={"summary": "chose the store"})
    svc.start_session({"session_id": "second"})
    minor = remember(svc, clock, "Renamed a variable", importance=0.2)
    major = remember(svc, clock, "JWT tokens live 15 minutes", importance=0.8)
    plain = remember(svc, clock, "CI runs make test", importance=0.8)
    svc.end_session(data={"summary": "auth and CI"})
    svc.start_session({"session_id": "empty"})  # left nothing: skipped as "previous"
    svc.end_session()
    svc.start_session({"session_id": "now", "agent": "codex-cli"})
    svc.remember({"content": "Somewhere else", "project_id": "other", "importance": 1.0})

    briefing = svc.session_context(limit=2)

    assert briefing.project_id == "shop"
    assert briefing.previous is not None
    assert briefing.previous.id == "second"
    # Most important first; the newer first among equals; capped at the limit.
    assert [str(m.id) for m in briefing.previous_memories] == [plain, major]
    # Key memories leave out what the previous session already shows, and other projects.
    assert [str(m.id) for m in briefing.key_memories] == [old, minor]
    text = as_text(briefing)
    assert "Previous session second" in text
    assert "auth and CI" in text
    assert text.index("CI runs make test") < text.index("JWT tokens live 15 minutes")
    assert "Use SQLite in WAL mode" in text
    assert "Somewhere else" not in text


def test_a_project_without_sessions_and_a_bad_limit(svc: MemoryService) -> None:
    briefing = svc.session_context("new-project")

    assert briefing.previous is None
    assert briefing.previous_memories == []
    assert briefing.key_memories == []
    assert "No earlier session in this project." in as_text(briefing)
    with pytest.raises(InvalidInputError, match="limit"):
        svc.session_context(limit=0)
