"""Invariant 7: every sync operation leaves one SyncEvent row and one JSON log line."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO
from uuid import UUID, uuid4

import structlog

from memvault.models import SyncDirection, SyncEvent, SyncResult
from memvault.store import LocalStore


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Structured logs: one JSON object a line, to `stream` (stderr by default)."""
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=False,
    )


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


def log_event(operation: str, event: SyncEvent, **extra: Any) -> None:
    """One JSON line with the SyncEvent's fields (ids are capped at 50 to keep lines short)."""
    fields = {
        "operation": operation,
        **event.model_dump(mode="json", exclude={"memory_ids", "created_at"}),
        "memory_ids": [str(m) for m in event.memory_ids[:50]],
        **extra,
    }
    log = structlog.get_logger("memvault.sync")
    if event.result in (SyncResult.FAILED, SyncResult.PARTIAL):
        log.warning("sync", **fields)
    else:
        log.info("sync", **fields)
