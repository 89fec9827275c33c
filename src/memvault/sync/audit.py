"""Invariant 7: every sync operation leaves one SyncEvent row and one JSON log line."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO, cast
from uuid import UUID, uuid4

import structlog

from memvault import log_destination
from memvault.models import SyncDirection, SyncEvent, SyncResult
from memvault.store import LocalStore


def configure_logging(
    level: str = "INFO", stream: TextIO | None = None, *, file: Path | None = None
) -> None:
    """Structured logs: one JSON object a line, to `stream`, else appended to `file`, else to
    stderr (never stdout: `--json` output and MCP over stdio own it)."""
    if stream is None and file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        stream = file.open("a", encoding="utf-8", buffering=1)  # line-buffered: a line a write
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )


class _CurrentStderr:
    """Whatever `sys.stderr` is when a line is written, not when logging was configured (a
    test runner's capture, a redirected stream)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


@dataclass
class SyncTimer:
    """Collects what one sync operation touched; `finish` records and logs it."""

    operation: str  # push, pull, recovery, verify, retry, conflict, quarantine
    direction: SyncDirection
    started: float = field(default_factory=time.perf_counter)
    memory_ids: list[UUID] = field(default_factory=list)
    retries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, ids: Iterable[UUID]) -> None:
        self.memory_ids.extend(ids)

    def finish(
        self,
        store: LocalStore,
        result: SyncResult,
        now: datetime,
        *,
        count: int | None = None,
        error: str | None = None,
    ) -> SyncEvent:
        """Write the SyncEvent row and its JSON log line; returns the event."""
        event = SyncEvent(
            id=uuid4(),
            direction=self.direction,
            result=result,
            count=len(self.memory_ids) if count is None else count,
            memory_ids=self.memory_ids,
            duration_ms=round((time.perf_counter() - self.started) * 1000, 3),
            retries=self.retries,
            error=error,
            created_at=now,
        )
        store.synclog.record(event)
        log_event(self.operation, event, **self.extra)
        return event


def log_event(operation: str, event: SyncEvent, *, warn: bool = False, **extra: Any) -> None:
    """One JSON line with the SyncEvent's fields (ids are capped at 50 to keep lines short); a
    warning when the operation failed, partly failed, or `warn` says it needs attention."""
    fields = {
        "operation": operation,
        **event.model_dump(mode="json", exclude={"memory_ids", "created_at"}),
        "memory_ids": [str(m) for m in event.memory_ids[:50]],
        **extra,
    }
    if not structlog.is_configured():  # e.g. a CLI command: stdout is for its own output
        configure_logging(log_destination.level, file=log_destination.file)
    log = structlog.get_logger("memvault.sync")
    if warn or event.result in (SyncResult.FAILED, SyncResult.PARTIAL):
        log.warning("sync", **fields)
    else:
        log.info("sync", **fields)


def log_operation(
    operation: str,
    direction: SyncDirection,
    result: SyncResult,
    memory_ids: Iterable[UUID | str],
    now: datetime,
    *,
    retries: int = 0,
    error: str | None = None,
    warn: bool = False,
    **extra: Any,
) -> None:
    """The JSON line, in the SyncEvent shape, of an operation whose durable record is kept
    elsewhere (a retry's in the outbox, a quarantine's in its alert): no audit row."""
    ids = [m if isinstance(m, UUID) else UUID(m) for m in memory_ids]
    event = SyncEvent(
        id=uuid4(),
        direction=direction,
        result=result,
        count=len(ids),
        memory_ids=ids,
        duration_ms=0,
        retries=retries,
        error=error,
        created_at=now,
    )
    log_event(operation, event, warn=warn, **extra)
