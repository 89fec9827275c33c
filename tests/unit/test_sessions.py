"""Sessions and projects: get-or-create, resume, end, idle timeout, the chain, `previous`, scope
rules and replication bookkeeping, with a clock the tests move (nothing sleeps)."""

from __future__ import annotations

import asyncio
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from manual_clock import ManualClock as Clock
from memvault.context.sessions import end_idle_sessions_forever
from memvault.errors import NotFoundError
from memvault.models import Memory, Project, Session
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.store.connection import connect
from memvault.store.migrate import available_migrations
from polling import eventually

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def session_file(tmp_path: Path) -> Path:
    return tmp_path / "agent" / ".claude-session-id"


def service_for(store: LocalStore, clock: Clock, session_file: Path, project: str) -> MemoryService:
    return MemoryService(store, clock=clock, default_project=project, session_file=session_file)


@pytest.fixture
def svc(store: LocalStore, clock: Clock, session_file: Path) -> MemoryService:
    return service_for(store, clock, session_file, "b")


def note(
    svc: MemoryService, clock: Clock, content: str = "a note", minutes: float = 1, **fields: Any
) -> Memory:
    """Remember `content` `minutes` after the previous write."""
    clock.advance(minutes=minutes)
    return svc.remember({"content": content, **fields})


def start_later(svc: MemoryService, clock: Clock, **fields: Any) -> Session:
    """Start a session a minute after the previous event."""
    clock.advance(minutes=1)
    return svc.start_session(fields)


def session(svc: MemoryService, session_id: str | None) -> Session:
    found = svc.store.sessions.get(str(session_id))
    assert found is not None
    return found


# -- get-or-create, resume, end ---------------------------------------------------------------


def test_remember_joins_the_session_the_file_names(
    svc: MemoryService, clock: Clock, session_file: Path
) -> None:
    first = note(svc, clock, "a")
    assert first.session_id is not None
    assert session_file.read_text(encoding="utf-8").strip() == first.session_id
    assert note(svc, clock, "b").session_id == first.session_id
    again = service_for(svc.store, clock, session_file, "b")  # a new process, same file
    assert note(again, clock, "c").session_id == first.session_id
    joined = session(svc, first.session_id)
    assert (joined.project_id, joined.memory_count, joined.last_active_at) == ("b", 3, clock.now)


def test_agent_given_id_starts_resumes_reopens_and_becomes_current(
    svc: MemoryService, clock: Clock, session_file: Path
) -> None:
    started = svc.start_session({"session_id": "agent-1", "agent": "codex"})
    assert (started.started_at, started.agent, started.project_id) == (T0, "codex", "b")
    assert session_file.read_text(encoding="utf-8").strip() == "agent-1"
    written = note(svc, clock)
    assert (written.session_id, written.source) == ("agent-1", "codex")
    svc.start_session({"session_id": "other"})
    assert note(svc, clock).session_id == "other"
    resumed = svc.start_session({"session_id": "agent-1"})
    assert (resumed.started_at, resumed.memory_count) == (T0, 1)
    assert note(svc, clock).session_id == "agent-1"
    assert svc.end_session().ended_at == clock.now
    reopened = svc.start_session({"session_id": "agent-1"})
    assert reopened.is_open
    assert [s.id for s in svc.list_sessions()] == ["other", "agent-1"]  # no duplicate row


def test_a_session_of_another_project_is_not_reused(svc: MemoryService, clock: Clock) -> None:
    in_a = note(svc, clock, project_id="a")
    in_b = note(svc, clock, project_id="b")
    back_in_a = note(svc, clock, project_id="a")
    assert len({in_a.session_id, in_b.session_id, back_in_a.session_id}) == 3
    assert session(svc, in_b.session_id).project_id == "b"
    assert session(svc, back_in_a.session_id).previous_id == in_a.session_id


def test_end_without_id_ends_the_current_one_and_removes_the_file(
    svc: MemoryService, clock: Clock, session_file: Path
) -> None:
    first = note(svc, clock)
    clock.advance(minutes=2)
    ended = svc.end_session()
    assert (ended.id, ended.ended_at) == (first.session_id, clock.now)
    assert not session_file.exists()
    assert svc.current_session() is None
    with pytest.raises(NotFoundError, match="no current session"):
        svc.end_session()
    following = note(svc, clock)
    assert session(svc, following.session_id).previous_id == first.session_id


def test_ending_twice_is_harmless_a_summary_replaces_and_others_keep_the_current(
    svc: MemoryService, clock: Clock, session_file: Path
) -> None:
    current = svc.start_session()
    note(svc, clock, session_id="elsewhere")  # names its session: does not make it current
    first = svc.end_session("elsewhere", {"summary": "one"})
    clock.advance(minutes=5)
    assert svc.end_session("elsewhere") == first
    replaced = svc.end_session("elsewhere", {"summary": "two"})
    assert (replaced.summary, replaced.ended_at) == ("two", first.ended_at)
    with pytest.raises(NotFoundError, match="nope"):
        svc.end_session("nope")
    assert session_file.read_text(encoding="utf-8").strip() == current.id
    assert svc.current_session() == session(svc, current.id)


# -- idle timeout -----------------------------------------------------------------------------


def test_an_idle_session_ends_at_its_last_activity(svc: MemoryService, clock: Clock) -> None:
    first = note(svc, clock)
    last = note(svc, clock, minutes=10)
    clock.advance(minutes=30)
    assert svc.expire_idle_sessions() == []  # exactly the timeout: not yet idle *past* it
    clock.advance(seconds=1)
    [ended] = svc.expire_idle_sessions()
    assert (ended.id, ended.ended_at) == (first.session_id, last.created_at)
    following = note(svc, clock)
    assert following.session_id != first.session_id
    assert session(svc, following.session_id).previous_id == first.session_id


def test_activity_resets_the_idle_timer(svc: MemoryService, clock: Clock) -> None:
    first = note(svc, clock)
    later = [note(svc, clock, minutes=29) for _ in range(3)]
    assert {m.session_id for m in later} == {first.session_id}
    assert session(svc, first.session_id).is_open


def test_the_sweeper_ends_idle_sessions_that_nobody_looks_up(
    svc: MemoryService, clock: Clock
) -> None:
    written = note(svc, clock)
    clock.advance(hours=1)

    async def sweep() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(end_idle_sessions_forever(svc.sessions, stop, interval_s=0.01))
        await eventually(
            lambda: not session(svc, written.session_id).is_open,
            "the sweeper to end the idle session",
        )
        stop.set()
        await asyncio.wait_for(task, 10)

    asyncio.run(sweep())
    assert session(svc, written.session_id).ended_at == written.created_at


# -- previous / current, the chain, listing, detail -------------------------------------------


def test_previous_is_the_one_before_the_current_or_the_latest(
    svc: MemoryService, clock: Clock
) -> None:
    with pytest.raises(NotFoundError):
        svc.session_detail("previous")
    _, second, third = [start_later(svc, clock) for _ in range(3)]
    assert svc.memory_filter({"session_id": "previous"}).session_id == second.id
    assert svc.memory_filter({"session_id": "current"}).session_id == third.id
    svc.end_session()
    assert svc.session_detail("previous").session.id == third.id
    with pytest.raises(NotFoundError, match="no current session"):
        svc.memory_filter({"session_id": "current"})


def test_the_chain_links_sessions_of_one_project_only(svc: MemoryService, clock: Clock) -> None:
    started: dict[str, list[Session]] = {"p": [], "q": []}
    for project in ["p", "q", "p", "q", "p"]:
        started[project].append(start_later(svc, clock, project_id=project))
    for chain in started.values():
        ids = [s.id for s in chain]
        assert [s.previous_id for s in chain] == [None, *ids[:-1]]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({}, [3, 2, 1, 0]),
        ({"project_id": "p"}, [3, 1, 0]),
        ({"agent": "claude"}, [3, 2, 0]),
        ({"since": T0 + timedelta(minutes=10), "until": T0 + timedelta(minutes=20)}, [2, 1]),
        ({"limit": 2}, [3, 2]),
        ({"project_id": "p", "agent": "claude", "since": T0 + timedelta(minutes=5)}, [3]),
    ],
)
def test_list_sessions_filters_and_orders_latest_first(
    svc: MemoryService, clock: Clock, flt: dict[str, Any], expected: list[int]
) -> None:
    made = []
    for project, agent, minute in [("p", "claude", 0), ("p", "codex", 10), ("q", "claude", 20)]:
        clock.now = T0 + timedelta(minutes=minute)
        made.append(svc.start_session({"project_id": project, "agent": agent}))
    clock.now = T0 + timedelta(minutes=30)
    made.append(svc.start_session({"project_id": "p", "agent": "claude"}))
    assert [s.id for s in svc.list_sessions(flt)] == [made[i].id for i in expected]


def test_session_detail_is_live_memories_oldest_first_even_a_week_later(
    svc: MemoryService, clock: Clock
) -> None:
    kept, dropped, last = (note(svc, clock, text) for text in ["first", "second", "third"])
    svc.forget(dropped.id)
    ended = svc.end_session(None, {"summary": "did three things"})
    clock.advance(days=7)
    note(svc, clock, "a new week")  # a new session is current now
    for ref in [ended.id, "previous"]:
        detail = svc.session_detail(ref)
        assert detail.session == session(svc, ended.id)
        assert detail.session.summary == "did three things"
        assert [m.id for m in detail.memories] == [kept.id, last.id]


# -- projects ---------------------------------------------------------------------------------


def test_projects_count_live_memories_and_sessions(svc: MemoryService, clock: Clock) -> None:
    dropped = note(svc, clock)
    svc.forget(dropped.id)
    svc.start_session()
    last_b = note(svc, clock)
    last_q = note(svc, clock, project_id="q")
    svc.describe_project("empty")
    counts = {p.id: (p.memory_count, p.session_count, p.last_active_at) for p in svc.projects()}
    assert list(counts) == ["q", "b", "empty"]  # most recently active first
    assert counts["b"] == (1, 2, last_b.created_at)  # the forgotten memory does not count
    assert counts["q"] == (1, 1, last_q.created_at)
    assert counts["empty"] == (0, 0, None)


def test_describe_project_and_a_default_name_never_replaces_a_real_one(
    svc: MemoryService, clock: Clock
) -> None:
    named = svc.describe_project("b", name="Payments", description="card flows")
    assert (named.name, named.description) == ("Payments", "card flows")
    note(svc, clock)  # creates contexts for project b: must not reset the name
    assert svc.describe_project("b", description="refunds too").name == "Payments"
    assert svc.describe_project("fresh").name == "fresh"
    remote = [
        Project(id="b", name="b", description="remote", created_at=T0),
        Project(id="fresh", name="Fresh Start", description="remote", created_at=T0),
    ]
    svc.store.put_recovered([], expected={}, projects=remote)
    summaries = {p.id: (p.name, p.description) for p in svc.projects()}
    assert summaries == {"b": ("Payments", "refunds too"), "fresh": ("Fresh Start", "remote")}


# -- replication bookkeeping ------------------------------------------------------------------


def test_unsynced_follows_revisions_read_not_rows(svc: MemoryService, clock: Clock) -> None:
    records = svc.store.sessions
    svc.start_session({"session_id": "s1"})
    sent = records.unsynced()
    assert [(s.id, r) for s, r in sent.sessions] == [("s1", 1)]
    assert [(p.id, r) for p, r in sent.projects] == [("b", 1)]
    note(svc, clock)  # a memory touches the session but is not a session change
    assert [(s.id, r) for s, r in records.unsynced().sessions] == [("s1", 1)]
    svc.end_session("s1")  # changed after `sent` was read
    records.mark_synced(sent)
    waiting = records.unsynced()
    assert [(s.id, r, s.ended_at) for s, r in waiting.sessions] == [("s1", 2, clock.now)]
    assert waiting.projects == []
    records.mark_synced(waiting)
    records.mark_synced(sent)  # an older acknowledgement never lowers the mark
    assert records.unsynced().sessions == records.unsynced().projects == []


def test_merge_fills_gaps_marks_new_rows_synced_and_keeps_local_values(
    svc: MemoryService, clock: Clock, tmp_path: Path
) -> None:
    local = svc.start_session({"session_id": "s1", "agent": "claude"})
    clock.advance(minutes=10)
    svc.end_session("s1", {"summary": "local summary"})
    day_before = T0 - timedelta(days=1)
    theirs = {"summary": "remote", "agent": "codex", "memory_count": 9, "previous_id": "s0"}
    svc.store.put_recovered(
        [],
        expected={},
        sessions=[
            Session(id="s1", project_id="other", started_at=day_before, ended_at=T0, **theirs),
            Session(id="s2", project_id="q", started_at=T0, ended_at=T0, summary="theirs"),
        ],
    )
    merged = session(svc, "s1")
    assert (merged.project_id, merged.agent, merged.summary) == ("b", "claude", "local summary")
    assert merged.ended_at == local.started_at + timedelta(minutes=10)
    # Gaps are filled, a start only moves earlier and a count only grows.
    assert (merged.started_at, merged.memory_count, merged.previous_id) == (day_before, 9, "s0")
    assert session(svc, "s2").summary == "theirs"
    # Memories from another machine name a session and projects this store has not seen: those
    # rows are the replica's, so they are not sent back, and no chain link is guessed for them.
    with closing(LocalStore.open(tmp_path / "elsewhere.db")) as elsewhere:
        writer = MemoryService(elsewhere, clock=clock)
        pulled = [
            writer.remember({"content": "x", "project_id": p, "session_id": f"{p}-1"}) for p in "bz"
        ]
    svc.store.put_replicated(pulled)
    assert session(svc, "b-1").previous_id is None  # not s1, this store's guess
    unsynced = svc.store.sessions.unsynced()
    assert [s.id for s, _ in unsynced.sessions] == ["s1"]  # the local change still waits
    assert [p.id for p, _ in unsynced.projects] == ["b"]  # "other", "q", "z": the replica's


OLD_ROWS = """
INSERT INTO projects VALUES ('p', 'p', NULL, '2026-01-01T09:00:00.000000+00:00');
INSERT INTO sessions (id, project_id, started_at) VALUES
    ('used', 'p', '2026-01-01T10:00:00.000000+00:00'),
    ('empty', 'p', '2026-01-02T10:00:00.000000+00:00');
INSERT INTO memories (id, content, memory_type, project_id, session_id, created_at, updated_at,
    content_hash) VALUES
    ('00000000-0000-4000-8000-000000000001', 'old', 'semantic', 'p', 'used',
     '2026-01-01T10:20:00.000000+00:00', '2026-01-01T10:20:00.000000+00:00', 'h'),
    ('00000000-0000-4000-8000-000000000002', 'old', 'semantic', 'p', 'used',
     '2026-01-01T10:30:00.000000+00:00', '2026-01-01T10:40:00.000000+00:00', 'h');
"""


def _store_before_0003(path: Path) -> None:
    """A store as memvault wrote it before migration 0003 (schema and rows)."""
    with closing(connect(path)) as conn:
        conn.execute(
            "CREATE TABLE schema_migrations"
            " (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
        )
        for migration in available_migrations()[:2]:
            conn.executescript(migration.sql)
            conn.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, '2026-01-01T00:00:00+00:00')",
                (migration.version, migration.name),
            )
        conn.executescript(OLD_ROWS)


def test_migration_0003_backfills_last_activity(tmp_path: Path) -> None:
    _store_before_0003(tmp_path / "old.db")
    with closing(LocalStore.open(tmp_path / "old.db")) as opened:
        used, empty = opened.sessions.get("used"), opened.sessions.get("empty")
        assert used is not None
        assert empty is not None
        assert used.last_active_at == datetime(2026, 1, 1, 10, 40, tzinfo=UTC)
        assert empty.last_active_at == empty.started_at == datetime(2026, 1, 2, 10, tzinfo=UTC)
        assert {s.id for s, _ in opened.sessions.unsynced().sessions} == {"used", "empty"}


# -- scope: what a plain query of the default project "b" sees --------------------------------


def test_project_memories_stay_home_and_global_ones_travel(
    svc: MemoryService, clock: Clock
) -> None:
    a_only = note(svc, clock, "deploy alpha by hand", project_id="a")
    a_global = note(svc, clock, "deploy from main only", project_id="a", scope="global")
    b_own = note(svc, clock, "deploy beta nightly")
    for flt, expected in [
        ({}, {a_global.id, b_own.id}),
        ({"all_projects": True}, {a_only.id, a_global.id, b_own.id}),
        ({"project_id": "a"}, {a_only.id, a_global.id}),
    ]:
        assert {m.id for m in svc.list(flt)} == expected, flt
        assert {h.memory.id for h in svc.search("deploy", flt)} == expected, flt


def test_previous_session_recall_attributes_every_memory(svc: MemoryService, clock: Clock) -> None:
    """Session A stores five memories about authentication; session B asks for `previous`."""
    a = svc.start_session({"agent": "claude-code"})
    stored = {note(svc, clock, f"authentication decision {n}").id for n in range(5)}
    clock.advance(hours=2)
    svc.start_session({"agent": "codex"})
    note(svc, clock, "authentication question from session B")
    for flt in [{"session_id": "previous"}, {"session_id": "previous", "all_projects": True}]:
        hits = svc.search("authentication", flt)
        assert {h.memory.id for h in hits} == stored
        assert {(h.memory.session_id, h.memory.source) for h in hits} == {(a.id, "claude-code")}


def test_a_date_range_returns_only_memories_inside_it(svc: MemoryService, clock: Clock) -> None:
    written = [note(svc, clock, f"release step {n}", minutes=60) for n in range(5)]
    flt = {"since": written[1].created_at, "until": written[3].created_at}
    assert [m.id for m in svc.list(flt)] == [m.id for m in reversed(written[1:4])]
    assert {h.memory.id for h in svc.search("release", flt)} == {m.id for m in written[1:4]}
