"""The store watchdog of `memvault serve`: it looks at the store file twice a second and answers
a vanished, replaced, emptied or schema-less store at once (invariant 4: a wipe is reported and
recovered, never served as the truth).

How each signal is judged:
- identity: the file's (st_dev, st_ino), taken at start and after each of the watchdog's own
  reopens. SQLite never replaces its file, so no file, or another inode, at the path is someone
  else's doing;
- the core tables and the memory rows are read through a fresh read-only connection, because
  the server's own connection would still see a deleted or replaced file. A lock held elsewhere
  gives no verdict that round; a file SQLite cannot read is damage;
- rows are counted tombstones included: memvault never removes a row (a forget is a tombstone),
  so a fall is never explained by memvault's own deletes, and count(*) is answered from an index
  (5 ms at 100,000 memories, where counting live rows reads every row: 80 ms).

The response: a deleted or replaced file is still open in this process, so its content is
copied back to the path — nothing written before it vanished is lost, not even unsent changes —
and whatever stands at the path is moved aside (`<name>.broken-<time>`, never deleted). With
dropped tables or emptied memories the damaged file is moved aside and a new store is recovered
from the replica. Then the alert is raised, recovery runs, and its verification (the digests of
both sides) goes into the alert, which a verified recovery closes as resolved. Without a replica
only the first kind can be repaired; the others are reported and the file is left as found.

Once a minute (the first time a minute after start, when pulls have caught up) the live count is
compared with the replica's, and a store far behind it is reported (detector.compare_with_remote).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from memvault.errors import MemvaultError
from memvault.models import Alert, AlertKind, AlertState
from memvault.remote.protocol import ExportFilter
from memvault.sync.engine import ORIGIN_KEY
from memvault.sync.recovery import RecoveryOptions
from memvault.sync.startup import move_aside

if TYPE_CHECKING:
    from memvault.service import MemoryService

CHECK_INTERVAL_S = 0.5  # a look is two stats and a 5 ms query; the issue asks for seconds
REMOTE_INTERVAL_S = 60.0  # comparing counts with the replica costs a round trip
REMOTE_TIMEOUT_S = 10.0
# Waiting longer for another connection's lock helps nobody: the next look is half a second away.
PROBE_TIMEOUT_S = 0.2
CORE_TABLES = ("memories", "memory_versions", "sync_queue", "sync_state", "alerts")
_COMPANIONS = ("-wal", "-shm")
# SQLite's verdicts on a file it cannot use; any other error (a lock, a file it cannot open
# this instant) is no verdict.
_DAMAGE_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
_REOPENED = (AlertKind.STORE_VANISHED, AlertKind.STORE_REPLACED)  # repaired from the open file
_RECOVERY_EVIDENCE = (
    "recovered", "skipped", "conflicts", "verified", "drift", "digest_local", "digest_remote",
    "duration_s",
)  # fmt: skip

FileId = tuple[int, int]


@dataclass(frozen=True)
class Finding:
    """Something wrong with the store file, and what was seen."""

    kind: AlertKind
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Inside:
    """What a fresh connection read from the store file."""

    rows: int | None = None  # memory rows, tombstones included; None: no verdict or damaged
    damage: dict[str, Any] | None = None  # why the file is not a usable store


def file_id(path: Path) -> FileId | None:
    """(st_dev, st_ino) of the file at `path`; None when there is none."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def look_inside(path: Path) -> Inside:
    """Read the store file's tables and memory rows read-only; never creates or changes it."""
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=PROBE_TIMEOUT_S
        )
    except sqlite3.Error as exc:
        return _verdict(exc)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        missing = [table for table in CORE_TABLES if table not in tables]
        if missing:
            return Inside(damage={"missing_tables": missing})
        return Inside(rows=int(conn.execute("SELECT count(*) FROM memories").fetchone()[0]))
    except sqlite3.Error as exc:
        return _verdict(exc)
    finally:
        conn.close()


def _verdict(exc: sqlite3.Error) -> Inside:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _DAMAGE_CODES:
        return Inside(damage={"unreadable": str(exc)})
    return Inside()


class StoreWatchdog:
    """Watches the store file of one service; `check()` is one look and its response,
    `run_forever` the server's loop, `check_remote()` the comparison with the replica."""

    def __init__(
        self,
        service: MemoryService,
        *,
        interval_s: float = CHECK_INTERVAL_S,
        remote_interval_s: float = REMOTE_INTERVAL_S,
    ) -> None:
        self._service = service
        self._store = service.store
        self._detector = service.detector
        self._clock = service.detector.clock
        self._interval_s = interval_s
        self._remote_interval_s = remote_interval_s
        self._log = structlog.get_logger("memvault.watchdog")
        self._ids: dict[str, FileId | None] = {}  # the watched file and its log, by suffix
        self._rows = 0
        self._standing: AlertKind | None = None  # reported, and still so
        self._remember()

    def _remember(self) -> None:
        """Watch the file at the path as it is now (at start, and after each reopen)."""
        path = self._store.path
        self._ids = {suffix: file_id(_with(path, suffix)) for suffix in ("", *_COMPANIONS)}
        self._rows = look_inside(path).rows or 0
        self._standing = None

    # -- looking ----------------------------------------------------------------------------------

    def find(self) -> Finding | None:
        """Look at the store file once; a finding when something is wrong, reported once."""
        finding = self._look()
        if finding is None:
            self._standing = None
            return None
        return None if finding.kind == self._standing else finding

    def _look(self) -> Finding | None:
        path = self._store.path
        found = file_id(path)
        if found is None:
            return Finding(AlertKind.STORE_VANISHED, {"seen": "no file at the store's path"})
        if found != self._ids[""]:
            return Finding(
                AlertKind.STORE_REPLACED,
                {
                    "seen": "a different file at the store's path",
                    "watched_inode": list(self._ids[""] or ()),
                    "found_inode": list(found),
                },
            )
        inside = look_inside(path)
        if inside.damage is not None:
            seen = "the store's tables are gone or unreadable"
            return Finding(AlertKind.TABLES_DROPPED, {"seen": seen, **inside.damage})
        if inside.rows is None:
            return None  # a lock held elsewhere: no verdict this time
        before, self._rows = self._rows, inside.rows
        # The log is this file's while the file is: a newer one is the watched file's too.
        self._ids.update({s: file_id(_with(path, s)) for s in _COMPANIONS})
        if inside.rows < before and (
            inside.rows == 0
            or (before >= self._detector.policy.min_store_size and inside.rows < before / 2)
        ):
            return Finding(
                AlertKind.STORE_EMPTIED,
                {
                    "seen": "memory rows removed from outside memvault",
                    "rows_before": before,
                    "rows": inside.rows,
                },
            )
        return None

    async def check(self) -> Alert | None:
        """One look; on a finding, the response. Returns the alert raised, if any."""
        finding = await asyncio.to_thread(self.find)
        return None if finding is None else await self.respond(finding)

    # -- responding -------------------------------------------------------------------------------

    async def respond(self, finding: Finding) -> Alert | None:
        """Repair what can be repaired, raise the alert, recover and record the outcome."""
        now = self._clock()
        self._standing = finding.kind
        sync = self._service.sync
        evidence: dict[str, Any] = {
            "path": str(self._store.path),
            "rows_before": self._rows,
            **finding.evidence,
        }
        if finding.kind in _REOPENED or sync is not None:
            try:
                evidence.update(await asyncio.to_thread(self._reopen, finding.kind, now))
            except (OSError, sqlite3.Error, MemvaultError) as exc:
                evidence["reopen_error"] = str(exc)
        if sync is None:
            evidence["replica"] = (
                "none configured (NEO4J_PASSWORD unset): nothing to recover from or verify "
                "against" + ("" if finding.kind in _REOPENED else "; the store was left as found")
            )
        try:
            alert = await asyncio.to_thread(self._detector.raise_alert, finding.kind, evidence)
        except sqlite3.Error as exc:  # e.g. the alerts table is among those dropped
            self._log.error(
                "watchdog", kind=finding.kind.value, evidence=evidence, error=str(exc),
                message="the store is damaged and the alert could not be stored",
            )  # fmt: skip
            return None
        if sync is not None and "reopen_error" not in evidence:
            await self._recover(alert, evidence)
        self._log.warning(
            "watchdog", kind=finding.kind.value, alert=str(alert.id), evidence=evidence,
            message=f"{finding.kind.value}: {finding.evidence.get('seen', '')}",
        )  # fmt: skip
        return alert

    def _reopen(self, kind: AlertKind, now: datetime) -> dict[str, Any]:
        """Move what stands at the path aside and reopen the store there: on a copy of the file
        still open here (vanished, replaced), else on a new empty file (recovered next)."""
        path = self._store.path
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        salvage = path.with_name(f"{path.name}.salvaged-{stamp}") if kind in _REOPENED else None
        stale = path.with_name(f"{path.name}.stale-{stamp}")
        done: dict[str, Any] = {}

        def replace() -> None:
            moved: list[str] = []
            if salvage is not None:
                # This file's own log left at the path: its content is in the salvaged copy, and
                # beside any other file it would be replayed into it.
                for suffix in _COMPANIONS:
                    companion = _with(path, suffix)
                    if self._ids[suffix] is not None and file_id(companion) == self._ids[suffix]:
                        companion.rename(_with(stale, suffix))
                        moved.append(str(_with(stale, suffix)))
            present = [s for s in ("", *_COMPANIONS) if _with(path, s).exists()]
            if present:
                target = move_aside(path, now)
                moved.extend(str(_with(target, s)) for s in present)
            if salvage is not None:
                salvage.rename(path)
                done["restored"] = "from the file still open in memvault: nothing was lost"
            if moved:
                done["moved_aside"] = moved

        self._store.reopen(salvage_to=salvage, replace=replace)
        if salvage is None and self._service.sync is not None:
            # A new file: keep this store's origin, so the replica still knows who it is.
            self._store.synclog.set_state(ORIGIN_KEY, self._service.sync.origin, now)
        self._remember()
        return done

    async def _recover(self, alert: Alert, evidence: dict[str, Any]) -> None:
        """Recover from the replica into the (reopened) store; the report goes into the alert."""
        try:
            report = await self._service.recover(RecoveryOptions(include_deleted=True))
        except MemvaultError as exc:
            evidence["recovery_error"] = str(exc)
            evidence["next"] = "run `memvault recover` once the replica is reachable"
        else:
            summary = report.as_dict()
            evidence["recovery"] = {key: summary[key] for key in _RECOVERY_EVIDENCE}
        await asyncio.to_thread(self._store.alerts.update_evidence, alert.id, evidence)
        if evidence.get("recovery", {}).get("verified"):
            await asyncio.to_thread(
                self._store.alerts.close, alert.id, AlertState.RESOLVED, self._clock()
            )

    # -- the replica ------------------------------------------------------------------------------

    async def check_remote(self) -> Alert | None:
        """Alert (once) when the store holds far fewer live memories than the replica. An
        unreachable replica, or a store that cannot be read, gives no verdict."""
        sync = self._service.sync
        if sync is None:
            return None
        try:
            remote = await asyncio.wait_for(
                sync.replica.memory_count(ExportFilter(include_deleted=False)), REMOTE_TIMEOUT_S
            )
            local = (await asyncio.to_thread(self._store.stats)).total
        except (MemvaultError, TimeoutError, sqlite3.Error):
            return None
        return await asyncio.to_thread(self._detector.compare_with_remote, local, remote)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Look every interval (and compare with the replica every remote interval) until
        `stop`; errors are logged, the loop never dies. A store not on disk is not watched."""
        if str(self._store.path) == ":memory:":
            return
        # Not at start: a machine that was offline is behind until its pulls catch up.
        remote_due = time.monotonic() + self._remote_interval_s
        while not stop.is_set():
            try:
                await self.check()
                if time.monotonic() >= remote_due:
                    remote_due = time.monotonic() + self._remote_interval_s
                    await self.check_remote()
            except Exception:
                self._log.exception("watchdog crashed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval_s)


def _with(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)
