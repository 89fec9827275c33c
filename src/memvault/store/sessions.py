"""Sessions and projects in the local store: the rows, their chain, and their replication state.

A session or project row carries a `revision`, bumped by every change worth replicating (start,
end, summary, name); the replicator sends rows whose revision is ahead of `synced_revision`.
Touches by memory writes (count, last activity) do not bump it: they ride along with the next.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from memvault.errors import NotFoundError
from memvault.models import Memory, Project, ProjectSummary, Session, SessionFilter
from memvault.store.connection import write_transaction
from memvault.store.rows import memory_from_row, summary_columns, to_db_time

SESSION_COLUMNS = (
    "id, project_id, started_at, ended_at, summary, memory_count, agent, last_active_at,"
    " previous_id"
)
_ENSURE_PROJECT = "INSERT OR IGNORE INTO projects (id, name, created_at) VALUES (?, ?, ?)"
# A new session follows the latest session its project started before it (the chain).
_ENSURE_SESSION = (
    "INSERT OR IGNORE INTO sessions (id, project_id, started_at, last_active_at, agent,"
    " previous_id) VALUES (:id, :project, :at, :at, :agent, (SELECT p.id FROM sessions p"
    " WHERE p.project_id IS :project AND p.started_at <= :at AND p.id != :id"
    " ORDER BY p.started_at DESC, p.id DESC LIMIT 1))"
)
# Rows made for data that came from the replica are already there: marked synced, and with no
# chain link guessed from this store's sessions (sent back, it would replace the replica's own).
_STUB_PROJECT = (
    "INSERT OR IGNORE INTO projects (id, name, created_at, synced_revision) VALUES (?, ?, ?, 1)"
)
_STUB_SESSION = (
    "INSERT OR IGNORE INTO sessions (id, project_id, started_at, last_active_at, agent,"
    " synced_revision) VALUES (:id, :project, :at, :at, :agent, 1)"
)

# Additive merge: values the store already holds win; the incoming copy only fills gaps, moves a
# start time earlier and raises a count. A default name (the id itself) yields to a real one.
# Rows that arrive this way are already on the replica: synced_revision = revision.
_MERGE_PROJECT = (
    "INSERT INTO projects (id, name, description, created_at, synced_revision)"
    " VALUES (?, ?, ?, ?, 1) ON CONFLICT (id) DO UPDATE SET"
    " name = CASE WHEN projects.name = projects.id THEN excluded.name ELSE projects.name END,"
    " description = coalesce(projects.description, excluded.description),"
    " created_at = min(projects.created_at, excluded.created_at)"
)
_MERGE_SESSION = (
    "INSERT INTO sessions (id, project_id, started_at, ended_at, summary, memory_count, agent,"
    " last_active_at, previous_id, synced_revision) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
    " ON CONFLICT (id) DO UPDATE SET"
    " project_id = coalesce(sessions.project_id, excluded.project_id),"
    " started_at = min(sessions.started_at, excluded.started_at),"
    " ended_at = coalesce(sessions.ended_at, excluded.ended_at),"
    " summary = coalesce(sessions.summary, excluded.summary),"
    " memory_count = max(sessions.memory_count, excluded.memory_count),"
    " agent = coalesce(sessions.agent, excluded.agent),"
    " last_active_at = max(coalesce(sessions.last_active_at, ''),"
    "                      coalesce(excluded.last_active_at, '')),"
    " previous_id = coalesce(sessions.previous_id, excluded.previous_id)"
)


def _time(value: datetime | None) -> str | None:
    return to_db_time(value) if value is not None else None


def ensure_contexts(
    conn: sqlite3.Connection, memories: Iterable[Memory], *, replicated: bool = False
) -> None:
    """Create the projects and sessions these memories point at, if they are new.

    `replicated`: the memories came from the replica, which holds their sessions and projects.
    """
    projects: dict[str, tuple[str, str, str]] = {}
    sessions: dict[str, dict[str, str | None]] = {}
    for memory in memories:
        created = to_db_time(memory.created_at)
        if memory.project_id is not None:
            projects.setdefault(memory.project_id, (memory.project_id, memory.project_id, created))
        if memory.session_id is not None:
            sessions.setdefault(
                memory.session_id,
                {
                    "id": memory.session_id,
                    "project": memory.project_id,
                    "at": created,
                    "agent": memory.source,
                },
            )
    conn.executemany(_STUB_PROJECT if replicated else _ENSURE_PROJECT, projects.values())
    conn.executemany(_STUB_SESSION if replicated else _ENSURE_SESSION, sessions.values())


def count_in_session(conn: sqlite3.Connection, memory: Memory) -> None:
    """A new memory in a session: one more memory, and activity now (for the idle timeout)."""
    if memory.session_id is not None:
        conn.execute(
            "UPDATE sessions SET memory_count = memory_count + 1,"
            " last_active_at = max(coalesce(last_active_at, ''), ?) WHERE id = ?",
            (to_db_time(memory.created_at), memory.session_id),
        )


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
        _STUB_PROJECT,
        [(s.project_id, s.project_id, to_db_time(s.started_at)) for s in sessions if s.project_id],
    )
    conn.executemany(
        _MERGE_SESSION,
        [
            (
                s.id,
                s.project_id,
                to_db_time(s.started_at),
                _time(s.ended_at),
                s.summary,
                s.memory_count,
                s.agent,
                _time(s.last_active_at),
                s.previous_id,
            )
            for s in sessions
        ],
    )


@dataclass(frozen=True)
class Unsynced:
    """Sessions and projects changed since they were last sent, with the revision read."""

    sessions: list[tuple[Session, int]]
    projects: list[tuple[Project, int]]


def _session(row: sqlite3.Row) -> Session:
    return Session.model_validate(dict(zip(row.keys(), row, strict=True)))


def _project(row: sqlite3.Row) -> Project:
    return Project.model_validate({key: row[key] for key in Project.model_fields})


class SessionRecords:
    """Reads and writes of the sessions and projects tables; shares the store's connection."""

    def __init__(self, conn: sqlite3.Connection, lock: threading.RLock) -> None:
        self._conn = conn
        self._lock = lock

    def get(self, session_id: str) -> Session | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        return _session(row) if row else None

    def start(
        self, session_id: str, *, project_id: str | None, agent: str | None, now: datetime
    ) -> Session:
        """Create the session, or resume it (reopen if ended) when it exists."""
        at = to_db_time(now)
        with self._lock, write_transaction(self._conn) as conn:
            if project_id is not None:
                conn.execute(_ENSURE_PROJECT, (project_id, project_id, at))
            inserted = conn.execute(
                _ENSURE_SESSION, {"id": session_id, "project": project_id, "at": at, "agent": agent}
            ).rowcount
            if not inserted:
                conn.execute(
                    "UPDATE sessions SET ended_at = NULL, last_active_at = ?,"
                    " agent = coalesce(?, agent), project_id = coalesce(project_id, ?),"
                    " revision = revision + 1 WHERE id = ?",
                    (at, agent, project_id, session_id),
                )
        found = self.get(session_id)
        assert found is not None  # written above, in this transaction
        return found

    def end(self, session_id: str, *, summary: str | None, now: datetime) -> Session:
        """End a session (an ended one keeps its end time); a summary replaces the old one."""
        with self._lock, write_transaction(self._conn) as conn:
            changed = conn.execute(
                "UPDATE sessions SET ended_at = coalesce(ended_at, ?),"
                " summary = coalesce(?, summary), revision = revision + 1"
                " WHERE id = ? AND (ended_at IS NULL OR ? IS NOT NULL)",
                (to_db_time(now), summary, session_id, summary),
            ).rowcount
            if (
                not changed
                and not conn.execute(
                    "SELECT 1 FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
            ):
                raise NotFoundError(f"session {session_id} not found")
        found = self.get(session_id)
        assert found is not None
        return found

    def expire_idle(self, cutoff: datetime) -> list[Session]:
        """End every open session last active before `cutoff`, at its last activity."""
        with self._lock, write_transaction(self._conn) as conn:
            ids = [
                row[0]
                for row in conn.execute(
                    "UPDATE sessions SET ended_at = coalesce(last_active_at, started_at),"
                    " revision = revision + 1 WHERE ended_at IS NULL"
                    " AND coalesce(last_active_at, started_at) < ? RETURNING id",
                    (to_db_time(cutoff),),
                )
            ]
        return [s for s in map(self.get, ids) if s is not None]

    def find(self, flt: SessionFilter) -> list[Session]:
        """Sessions matching the filter, most recently started first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions"
                " WHERE (:project IS NULL OR project_id = :project)"
                " AND (:agent IS NULL OR agent = :agent)"
                " AND (:since IS NULL OR started_at >= :since)"
                " AND (:until IS NULL OR started_at <= :until)"
                " ORDER BY started_at DESC, id DESC LIMIT :limit",
                {
                    "project": flt.project_id,
                    "agent": flt.agent,
                    "since": _time(flt.since),
                    "until": _time(flt.until),
                    "limit": flt.limit,
                },
            ).fetchall()
        return [_session(row) for row in rows]

    def memories(self, session_id: str) -> list[Memory]:
        """The session's live memories, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {summary_columns()} FROM memories WHERE session_id = ?"
                " AND deleted_at IS NULL ORDER BY created_at, id",
                (session_id,),
            ).fetchall()
        return [memory_from_row(row) for row in rows]

    def latest(
        self,
        project_id: str | None,
        *,
        before: Session | None = None,
        with_content: bool = False,
    ) -> Session | None:
        """The project's most recently started session (started before `before`, if given;
        with `with_content`, only one that left a summary or memories)."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM sessions WHERE project_id IS :project"
                " AND (:before IS NULL OR (started_at, id) < (:before, :before_id))"
                " AND (NOT :with_content OR summary IS NOT NULL OR memory_count > 0)"
                " ORDER BY started_at DESC, id DESC LIMIT 1",
                {
                    "project": project_id,
                    "before": _time(before.started_at) if before else None,
                    "before_id": before.id if before else None,
                    "with_content": with_content,
                },
            ).fetchone()
        return _session(row) if row else None

    def describe_project(
        self, project_id: str, *, name: str | None, description: str | None, now: datetime
    ) -> None:
        """Create the project or set its name and description (None keeps the current value)."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(_ENSURE_PROJECT, (project_id, name or project_id, to_db_time(now)))
            conn.execute(
                "UPDATE projects SET name = coalesce(?, name),"
                " description = coalesce(?, description), revision = revision + 1"
                " WHERE id = ? AND (name IS NOT coalesce(?, name)"
                " OR description IS NOT coalesce(?, description))",
                (name, description, project_id, name, description),
            )

    def projects(self) -> list[ProjectSummary]:
        """Every project with its live memories, sessions and last activity, latest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT p.id, p.name, p.description, p.created_at,"
                " (SELECT count(*) FROM memories m WHERE m.project_id = p.id"
                "  AND m.deleted_at IS NULL) AS memory_count,"
                " (SELECT count(*) FROM sessions s WHERE s.project_id = p.id) AS session_count,"
                " (SELECT max(m.updated_at) FROM memories m WHERE m.project_id = p.id)"
                "  AS last_active_at"
                " FROM projects p ORDER BY last_active_at IS NULL, last_active_at DESC, p.id"
            ).fetchall()
        return [ProjectSummary.model_validate(dict(zip(r.keys(), r, strict=True))) for r in rows]

    def unsynced(self, limit: int = 500) -> Unsynced:
        """Sessions and projects whose latest change has not reached the replica."""
        with self._lock:
            sessions = self._conn.execute(
                f"SELECT {SESSION_COLUMNS}, revision FROM sessions"
                " WHERE revision > synced_revision ORDER BY started_at LIMIT ?",
                (limit,),
            ).fetchall()
            projects = self._conn.execute(
                "SELECT id, name, description, created_at, revision FROM projects"
                " WHERE revision > synced_revision ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return Unsynced(
            sessions=[(_session(row), int(row["revision"])) for row in sessions],
            projects=[(_project(row), int(row["revision"])) for row in projects],
        )

    def mark_synced(self, sent: Unsynced) -> None:
        """Record that these revisions reached the replica (later changes still wait)."""
        with self._lock, write_transaction(self._conn) as conn:
            conn.executemany(
                "UPDATE sessions SET synced_revision = max(synced_revision, ?) WHERE id = ?",
                [(revision, s.id) for s, revision in sent.sessions],
            )
            conn.executemany(
                "UPDATE projects SET synced_revision = max(synced_revision, ?) WHERE id = ?",
                [(revision, p.id) for p, revision in sent.projects],
            )
