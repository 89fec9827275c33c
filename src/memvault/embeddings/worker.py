"""The embedding worker: fills in vectors off the write path, with retry and backoff.

A write never waits for an embedding. The queue is the store itself — live memories without a
vector of the active model — so nothing is lost when the provider is down or memvault stops:
the worker picks up where it was at the next start.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass

from memvault.embeddings.base import Embedder
from memvault.errors import RejectedError, UnavailableError
from memvault.store import LocalStore
from memvault.store.embeddings import Embedded, EmbeddingTask
from memvault.sync.replicator import Backoff

BATCH_SIZE = 32


@dataclass
class EmbedReport:
    """What one pass did."""

    embedded: int = 0  # vectors written
    refused: int = 0  # texts the provider will not embed (kept with the reason)
    skipped: int = 0  # memories changed while being embedded (their new text waits)
    error: str | None = None  # why the pass stopped early (provider unavailable)


class EmbeddingWorker:
    """Embeds what the store is missing. `run_once()` is the deterministic core; `run_forever()`
    is the loop of a running server (woken by writes, backing off while the provider is down)."""

    def __init__(
        self,
        store: LocalStore,
        embedder: Embedder,
        *,
        batch_size: int = BATCH_SIZE,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._batch_size = batch_size
        self._backoff = backoff or Backoff(base_s=1.0, cap_s=300.0)
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.failures = 0  # consecutive unavailable passes: the backoff exponent

    def run_once(
        self,
        max_batches: int | None = None,
        progress: Callable[[int], None] | None = None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> EmbedReport:
        """Embed batch after batch until nothing is missing, the provider is unavailable, or
        `stopping()` says the server is shutting down (checked between batches)."""
        report = EmbedReport()
        try:
            model = self._embedder.info().model
        except (UnavailableError, RejectedError) as exc:  # e.g. an Ollama model not pulled yet
            report.error = str(exc)
            self.failures += 1
            return report
        batches = 0
        while (max_batches is None or batches < max_batches) and not stopping():
            tasks = self._store.embeddings.missing(model, self._batch_size)
            if not tasks:
                break
            batches += 1
            try:
                try:
                    vectors = self._embedder.embed_documents([task.content for task in tasks])
                except RejectedError:
                    self._embed_one_by_one(tasks, model, report)  # find the text(s) refused
                else:
                    self._write(tasks, vectors, model, report)
            except UnavailableError as exc:  # also when it goes down while texts are tried singly
                report.error = str(exc)
                self.failures += 1
                return report
            if progress is not None:
                progress(report.embedded)
        self.failures = 0
        return report

    def _embed_one_by_one(
        self, tasks: list[EmbeddingTask], model: str, report: EmbedReport
    ) -> None:
        for task in tasks:
            try:
                vector = self._embedder.embed_documents([task.content])
            except RejectedError as exc:
                self._store.embeddings.refuse(task, str(exc))
                report.refused += 1
            else:
                self._write([task], vector, model, report)

    def _write(
        self,
        tasks: list[EmbeddingTask],
        vectors: list[list[float]],
        model: str,
        report: EmbedReport,
    ) -> None:
        items = [
            Embedded(task.memory_id, task.event_id, vector, model)
            for task, vector in zip(tasks, vectors, strict=True)
        ]
        written = self._store.embeddings.store(items)
        report.embedded += written
        report.skipped += len(items) - written

    # -- the running loop -------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask the loop to look for work now; safe from any thread (e.g. after a write)."""
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def run_forever(self, stop: asyncio.Event, poll_interval_s: float = 5.0) -> None:
        """Embed whenever woken and every `poll_interval_s`; while the provider is down, wait
        out a growing, jittered backoff instead. Errors are logged; the loop never dies."""
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while not stop.is_set():
            self._wake.clear()
            try:
                await asyncio.to_thread(self.run_once, None, None, stop.is_set)
            except Exception:
                import structlog  # here: structlog loads rich, which CLI start-up avoids

                structlog.get_logger("memvault.embeddings").exception("embedding pass crashed")
                self.failures += 1
            backing_off = self.failures > 0
            wait = (
                self._backoff.delay(self.failures, self._rng).total_seconds()
                if backing_off
                else poll_interval_s
            )
            waiters = {asyncio.ensure_future(stop.wait())}
            if not backing_off:  # while backing off, writes do not cut the wait short
                waiters.add(asyncio.ensure_future(self._wake.wait()))
            _done, pending = await asyncio.wait(
                waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            for task in pending:
                task.cancel()
