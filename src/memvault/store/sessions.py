"""Sessions and projects written in bulk: merged into what the store holds, never overwriting it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

from memvault.models import Memory, Project, Session
from memvault.store.rows import to_db_time

_ENSURE_PROJECT = "INSERT OR IGNORE INTO projects (id, name, created_at) VALUES (?, ?, ?)"
_ENSURE_SESSION = (
    "INSERT OR IGNORE INTO sessions (id, project_id, started_at, agent) VALUES (?, ?, ?, ?)"
)

# Additive merge: values the store already holds win; the incoming copy only fills gaps, moves a
# start time earlier and raises a count. A default name (the id itself) yields to a real one.
_MERGE_PROJECT = (
    "INSERT INTO projects (id, name, description, created_at) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET"
    " name = CASE WHEN projects.name = projects.id THEN excluded.name ELSE projects.name END,"
    " description = coalesce(projects.description, excluded.description),"
    " created_at = min(projects.created_at, excluded.created_at)"
)
_MERGE_SESSION = (
    "INSERT INTO sessions (id, project_id, started_at, ended_at, summary, memory_count, agent)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET"
    " project_id = coalesce(sessions.project_id, excluded.project_id),"
    " started_at = min(sessions.started_at, excluded.started_at),"
    " ended_at = coalesce(sessions.ended_at, excluded.ended_at),"
    " summary = coalesce(sessions.summary, excluded.summary),"
    " memory_count = max(sessions.memory_count, excluded.memory_count),"
    " agent = coalesce(sessions.agent, excluded.agent)"
)


def ensure_contexts(conn: sqlite3.Connection, memories: Iterable[Memory]) -> None:
    """Create the projects and sessions these memories point at, if they are new."""
    projects: dict[str, tuple[str, str, str]] = {}
    sessions: dict[str, tuple[str, str | None, str, str | None]] = {}
    for memory in memories:
        created = to_db_time(memory.created_at)
        if memory.project_id is not None:
            projects.setdefault(memory.project_id, (memory.project_id, memory.project_id, created))
        if memory.session_id is not None:
            sessions.setdefault(
                memory.session_id, (memory.session_id, memory.project_id, created, memory.source)
            )
    conn.executemany(_ENSURE_PROJECT, projects.values())
    conn.executemany(_ENSURE_SESSION, sessions.values())


def merge_context(
    conn: sqlite3.Connection, sessions: Sequence[Session], projects: Sequence[Project]
) -> None:
    """Merge sessions and projects (from the replica) into the store's own, additively."""
    conn.executemany(
        _MERGE_PROJECT,
        [(p.id, p.name, p.description, to_db_time(p.created_at)) for p in projects],
    )
    # A session may name a project that was not passed in; the foreign key needs its row.
    conn.executemany(
        _ENSURE_PROJECT,
        [(s.project_id, s.project_id, to_db_time(s.started_at)) for s in sessions if s.project_id],
    )
    conn.executemany(
        _MERGE_SESSION,
        [
            (
                s.id,
                s.project_id,
                to_db_time(s.started_at),
                to_db_time(s.ended_at) if s.ended_at else None,
                s.summary,
                s.memory_count,
                s.agent,
            )
            for s in sessions
        ],
    )
