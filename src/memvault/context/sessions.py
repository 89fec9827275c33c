"""SessionManager: which session a memory belongs to, and when a session ends.

A session id comes from the agent when it gives one (hooks pass Claude Code's `session_id`);
otherwise the current one is read from the session file (the `.claude-session-id` convention),
and a new one is made when there is none, it has ended, it belongs to another project, or it
has been idle longer than the timeout. Idle sessions end at their last activity, checked on
every session lookup and periodically by `memvault serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from uuid import uuid4

from memvault.errors import NotFoundError
from memvault.models import Session
from memvault.store.sessions import SessionRecords

DEFAULT_IDLE_TIMEOUT = timedelta(minutes=30)
PREVIOUS = "previous"
CURRENT = "current"


class SessionManager:
    """Start, resume, end and look up sessions; the session file names the current one."""

    def __init__(
        self,
        records: SessionRecords,
        *,
        clock: Callable[[], datetime],
        idle_timeout: timedelta = DEFAULT_IDLE_TIMEOUT,
        session_file: Path | None = None,
    ) -> None:
        self.records = records
        self._clock = clock
        self.idle_timeout = idle_timeout
        self.session_file = session_file
        self._current_id: str | None = None  # stands in for the file when there is none

    def start(
        self,
        *,
        session_id: str | None = None,
        project_id: str | None = None,
        agent: str | None = None,
    ) -> Session:
        """Start a session (resume it when the id is known) and make it the current one."""
        self.expire_idle()
        session = self.records.start(
            session_id or str(uuid4()), project_id=project_id, agent=agent, now=self._clock()
        )
        self._remember_current(session.id)
        return session

    def current(self, project_id: str | None = None) -> Session | None:
        """The open session the session file names, if it is one of `project_id` (when given).
        Read-only in the common case: the idle sweep (a write) runs only when this session has
        gone idle, so every memory write does not pay for one."""
        session_id = self._read_current()
        session = self.records.get(session_id) if session_id else None
        if session is None or not session.is_open:
            return None
        if (session.last_active_at or session.started_at) < self._clock() - self.idle_timeout:
            self.expire_idle()
            return None
        if project_id is not None and session.project_id not in (None, project_id):
            return None
        return session

    def current_or_start(self, project_id: str | None, agent: str | None = None) -> Session:
        """The current session of this project, or a new one (get-or-create)."""
        return self.current(project_id) or self.start(project_id=project_id, agent=agent)

    def end(self, session_id: str | None = None, *, summary: str | None = None) -> Session:
        """End a session (the current one when no id is given); ending twice is harmless."""
        current = self._read_current()
        target = session_id or current
        if target is None:
            raise NotFoundError("no current session to end: give a session id")
        ended = self.records.end(target, summary=summary, now=self._clock())
        if target == current:
            self._current_id = None
            if self.session_file is not None:
                self.session_file.unlink(missing_ok=True)
        return ended

    def expire_idle(self) -> list[Session]:
        """End every open session idle for longer than the timeout; returns those ended."""
        return self.records.expire_idle(self._clock() - self.idle_timeout)

    def resolve(self, ref: str, project_id: str | None) -> str:
        """A session id from `ref`: an id as is, `current`, or `previous` — the project's
        session before the current one (the latest one when none is current)."""
        if ref == CURRENT:
            session = self.current(project_id)
            if session is None:
                raise NotFoundError("no current session: start one with `memvault session start`")
            return session.id
        if ref == PREVIOUS:
            found = self.records.latest(project_id, before=self.current(project_id))
            if found is None:
                raise NotFoundError(f"no previous session in project {project_id or '(none)'}")
            return found.id
        return ref

    def current_id(self) -> str | None:
        """The id the session file holds, open or not (for callers outside the local store)."""
        return self._read_current()

    # -- the session file -------------------------------------------------------------------------

    def _read_current(self) -> str | None:
        if self.session_file is None:
            return self._current_id
        try:
            value = self.session_file.read_text(encoding="utf-8").strip()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return value or None

    def _remember_current(self, session_id: str) -> None:
        self._current_id = session_id
        if self.session_file is None:
            return
        self.session_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.session_file.with_name(f".{self.session_file.name}.{os.getpid()}.tmp")
        temporary.write_text(session_id + "\n", encoding="utf-8")
        temporary.replace(self.session_file)  # atomic: a reader sees the old id or the new one


async def end_idle_sessions_forever(
    manager: SessionManager, stop: asyncio.Event, interval_s: float = 60.0
) -> None:
    """End idle sessions every `interval_s` until `stop` is set (run by `memvault serve`, so a
    session ends on time even when nothing looks it up)."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(manager.expire_idle)
        except Exception:  # a failed sweep is logged and retried at the next tick
            import structlog  # here, not at import: structlog loads rich, which the CLI avoids

            structlog.get_logger("memvault.sessions").exception("idle session sweep failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval_s)
