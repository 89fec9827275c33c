"""Never mirror emptiness (invariant 4): before memvault serves, a local store that is missing,
empty or without its schema while the replica holds memories is reported and rebuilt from the
replica. An unreachable replica never stops the start: memvault degrades and says so.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

import structlog

from memvault.config import Settings
from memvault.errors import MemvaultError
from memvault.models import utc_now
from memvault.remote.protocol import Replica
from memvault.store import LocalStore
from memvault.sync.recovery import RecoveryOptions, RecoveryReport, recover

ReplicaFactory = Callable[[Settings], Replica]


class StoreState(StrEnum):
    """What is at the store path, judged without creating or migrating anything."""

    MISSING = "missing"  # no file
    NO_SCHEMA = "no_schema"  # a file, but not a database or without the memories table
    EMPTY = "empty"  # the schema, and no memory row at all (tombstones count as rows)
    OK = "ok"


class StartupAction(StrEnum):
    """What ensure_not_empty did."""

    NONE = "none"  # the store holds memories; the replica was not asked
    NOTHING_TO_RECOVER = "nothing_to_recover"  # the replica holds none either (a new install)
    RECOVERED = "recovered"
    AUTO_RECOVER_OFF = "auto_recover_off"  # said so, changed nothing
    NO_REPLICA = "no_replica"  # no replica configured
    REPLICA_UNREACHABLE = "replica_unreachable"  # started anyway
    RECOVERY_FAILED = "recovery_failed"  # started anyway with what was recovered


@dataclass(frozen=True)
class StartupDecision:
    state: StoreState
    action: StartupAction
    remote_memories: int | None = None
    moved_to: Path | None = None  # where a schema-less file was moved aside
    report: RecoveryReport | None = None
    error: str | None = None


def store_state(path: Path) -> StoreState:
    """Judge the store file read-only (URI mode=ro): never creates, repairs or migrates it."""
    if not path.exists():
        return StoreState.MISSING
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return StoreState.NO_SCHEMA
    try:
        table = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'memories'"
        ).fetchone()
        if table is None:
            return StoreState.NO_SCHEMA
        rows = int(conn.execute("SELECT count(*) FROM memories").fetchone()[0])
    except sqlite3.DatabaseError:  # not a database, or a damaged one
        return StoreState.NO_SCHEMA
    finally:
        conn.close()
    return StoreState.OK if rows else StoreState.EMPTY


async def ensure_not_empty(
    settings: Settings,
    replica_factory: ReplicaFactory,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> StartupDecision:
    """Call before serving. A store holding memories costs one read-only look at the file;
    otherwise the replica is asked how many memories it holds and, when it holds any, the store
    is rebuilt from it (everything, tombstones included) unless MEMVAULT_AUTO_RECOVER is off.
    A schema-less file is moved aside to `<name>.broken-<time>`, never deleted."""
    path = settings.store_path
    state = store_state(path)
    if state is StoreState.OK:
        return StartupDecision(state, StartupAction.NONE)
    log = structlog.get_logger("memvault.startup").bind(store=str(path), state=state.value)
    try:
        replica = replica_factory(settings)
    except MemvaultError as exc:  # e.g. NEO4J_PASSWORD unset: there is no replica to ask
        return StartupDecision(state, StartupAction.NO_REPLICA, error=str(exc))
    try:
        try:
            remote = await replica.memory_count()
        except MemvaultError as exc:
            log.warning(
                "startup", action=StartupAction.REPLICA_UNREACHABLE.value, error=str(exc),
                message=f"the local store is {state.value} and the replica cannot be asked; "
                "starting without recovery",
            )  # fmt: skip
            return StartupDecision(state, StartupAction.REPLICA_UNREACHABLE, error=str(exc))
        if remote == 0:
            return StartupDecision(state, StartupAction.NOTHING_TO_RECOVER, remote_memories=0)
        if not settings.auto_recover:
            log.warning(
                "startup", action=StartupAction.AUTO_RECOVER_OFF.value, remote_memories=remote,
                message=f"the local store is {state.value} while the replica holds {remote} "
                "memories; MEMVAULT_AUTO_RECOVER is off: run `memvault recover`",
            )  # fmt: skip
            return StartupDecision(state, StartupAction.AUTO_RECOVER_OFF, remote_memories=remote)
        log.warning(
            "startup", action="recovering", remote_memories=remote,
            message=f"the local store is {state.value} while the replica holds {remote} "
            "memories; recovering before serving",
        )  # fmt: skip
        moved = move_aside(path, clock()) if state is StoreState.NO_SCHEMA else None
        return await _recover_into(path, replica, state, remote, moved, clock)
    finally:
        await replica.close()


async def _recover_into(
    path: Path,
    replica: Replica,
    state: StoreState,
    remote: int,
    moved: Path | None,
    clock: Callable[[], datetime],
) -> StartupDecision:
    try:
        store = LocalStore.open(path)
    except MemvaultError as exc:
        return StartupDecision(state, StartupAction.RECOVERY_FAILED, remote, moved, error=str(exc))
    try:
        report = await recover(store, replica, RecoveryOptions(include_deleted=True), clock=clock)
    except MemvaultError as exc:  # the recovery's own SyncEvent and log line say what failed
        return StartupDecision(state, StartupAction.RECOVERY_FAILED, remote, moved, error=str(exc))
    finally:
        store.close()
    return StartupDecision(state, StartupAction.RECOVERED, remote, moved, report)


def move_aside(path: Path, now: datetime) -> Path:
    """Rename the file (and its -wal/-shm companions) to `<name>.broken-<UTC time>`."""
    target = path.with_name(f"{path.name}.broken-{now.strftime('%Y%m%dT%H%M%S%fZ')}")
    for suffix in ("", "-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            companion.rename(target.with_name(target.name + suffix))
    return target
