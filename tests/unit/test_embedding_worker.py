"""Embedding worker, vector sync, recall, reembed: real stores, the local model, an Ollama stand-in.

Ollama cannot run here: tests/ollama_standin.py is a real HTTP server speaking its documented wire
contract. Where a provider must refuse one text or be written to while it embeds, `Scripted` (the
real local model) adds that behaviour.
"""

from __future__ import annotations

import asyncio
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from memvault.embeddings.local import MODEL_ID, LocalEmbedder
from memvault.embeddings.none import NoEmbedder
from memvault.embeddings.ollama import OllamaEmbedder
from memvault.embeddings.worker import EmbeddingWorker
from memvault.errors import InvalidInputError, RejectedError, UnavailableError
from memvault.models import Project, Session
from memvault.remote.protocol import ApplyOutcome, Change
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.store.embeddings import Embedded
from memvault.sync.replicator import Backoff, Replicator
from ollama_standin import OllamaStandin, pulled, unit_vector
from polling import eventually

NOMIC = "nomic-embed-text"


@pytest.fixture(scope="module")
def local() -> Iterator[LocalEmbedder]:
    model = LocalEmbedder()
    yield model
    model.close()


@pytest.fixture
def standin() -> Iterator[OllamaStandin]:
    with OllamaStandin() as server:
        yield server


class Scripted(LocalEmbedder):
    """The local model, made to refuse chosen texts (as Ollama answers 400 to a text beyond its
    context), to be down, and to run `during` once while answering a call."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse: set[str] = set()
        self.down = False
        self.during: Callable[[], object] | None = None
        self.calls: list[list[str]] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(list(texts))
        down, refused = self.down, self.refuse.intersection(texts)
        if self.during is not None:
            self.during, during = None, self.during
            during()
        if down:
            raise UnavailableError("provider unreachable")
        if refused:
            raise RejectedError("input length exceeds the context length")
        return super().embed_documents(texts)


class Replica:
    """Records the vectors it is sent; accepts every change unless the memory is refused."""

    def __init__(self) -> None:
        self.refuse: set[UUID] = set()
        self.sent: list[Embedded] = []
        self.during: Callable[[], object] | None = None

    async def apply_context(self, sessions: Sequence[Session], projects: Sequence[Project]) -> None:
        pass

    async def apply(self, changes: Sequence[Change]) -> list[ApplyOutcome]:
        if any(change.memory.id in self.refuse for change in changes):
            raise RejectedError("Neo4j rejected the query")
        return [
            ApplyOutcome(c.memory.id, c.memory.event_id or UUID(int=0), True, "r", 1, "")
            for c in changes
        ]

    async def apply_embeddings(self, items: Sequence[Embedded]) -> int:
        if self.during is not None:
            self.during, during = None, self.during
            during()
        self.sent.extend(items)
        return len(items)


def error_of(store: LocalStore, memory_id: UUID) -> str | None:
    with closing(sqlite3.connect(store.path)) as conn:
        row = conn.execute("SELECT embedding_error FROM memories WHERE id = ?", (str(memory_id),))
        return row.fetchone()[0]  # type: ignore[no-any-return]


def vector(store: LocalStore, memory_id: UUID) -> list[float] | None:
    return store.get(memory_id).embedding  # type: ignore[union-attr]


def counts(store: LocalStore, model: str) -> tuple[int, int, int, int]:
    found = store.embeddings.counts(model)
    return found.embedded, found.missing, found.refused, found.unsynced


async def until(condition: Callable[[], bool]) -> None:
    await eventually(condition, "the worker's condition")


# -- the worker ----------------------------------------------------------------------------------


@pytest.mark.parametrize("failure", ["hang", "503"])
def test_a_write_never_waits_for_the_provider_and_is_embedded_once_it_recovers(
    store: LocalStore, standin: OllamaStandin, failure: str
) -> None:
    embedder = OllamaEmbedder(standin.url, NOMIC, timeout=0.5)
    service = MemoryService(store, embedder=embedder)
    worker = EmbeddingWorker(store, embedder)
    service.embedding_worker = worker
    assert service.embedding_counts().missing == 0  # probes the dimension while Ollama is up
    standin.hang, standin.forced_status = failure == "hang", 503 if failure == "503" else None
    asked = len(standin.requests)

    memory = service.remember({"content": "deploys go out on Tuesdays"})

    assert len(standin.requests) == asked  # the write asked the provider nothing
    assert vector(store, memory.id) is None
    report = worker.run_once()
    assert report.error is not None
    assert "timed out" in report.error or "try again later" in report.error
    assert (report.embedded, worker.failures) == (0, 1)
    assert (service.embedding_counts().embedded, service.embedding_counts().missing) == (0, 1)

    standin.hang, standin.forced_status = False, None
    report = worker.run_once()

    assert (report.embedded, report.error, worker.failures) == (1, None, 0)
    stored = service.get(memory.id)
    assert (stored.embedding_model, stored.embedding_dim) == (NOMIC, 768)
    assert math.hypot(*(stored.embedding or [])) == pytest.approx(1.0, abs=1e-5)
    expected = unit_vector(NOMIC, "search_document: deploys go out on Tuesdays")
    assert stored.embedding == pytest.approx(expected, abs=1e-6)
    assert (service.embedding_counts().embedded, service.embedding_counts().missing) == (1, 0)


def test_changed_and_forgotten_memories_never_get_a_vector_of_old_text(store: LocalStore) -> None:
    service = MemoryService(store)
    edited = service.remember({"content": "the cache lives in Redis"})
    gone = service.remember({"content": "sessions are kept for a week"})
    service.forget(service.remember({"content": "forgotten before any pass"}).id)
    provider = Scripted()
    # The user edits one memory and forgets another while their batch is being embedded.
    provider.during = lambda: (
        service.update(edited.id, {"content": "the cache moved to Valkey"}),
        service.forget(gone.id),
    )

    report = EmbeddingWorker(store, provider).run_once()

    assert (report.embedded, report.skipped, report.error) == (1, 2, None)
    assert provider.calls == [
        ["the cache lives in Redis", "sessions are kept for a week"],
        ["the cache moved to Valkey"],
    ]
    now = service.get(edited.id)
    assert now.content == "the cache moved to Valkey"
    assert now.embedding == pytest.approx(provider.embed_query(now.content), abs=1e-6)
    assert vector(store, gone.id) is None
    assert counts(store, MODEL_ID)[1] == 0


def test_a_refused_text_is_kept_with_its_reason_until_its_content_changes(
    store: LocalStore,
) -> None:
    service = MemoryService(store)
    texts = ["first note", "a text the provider refuses", "third note"]
    memories = [service.remember({"content": text}) for text in texts]
    provider = Scripted()
    provider.refuse = {texts[1]}
    provider.during = lambda: setattr(provider, "down", True)  # down after refusing the batch
    worker = EmbeddingWorker(store, provider)

    report = worker.run_once()  # texts are tried one by one to find the refused one: all fail

    assert (report.error, report.embedded, report.refused) == ("provider unreachable", 0, 0)
    assert (worker.failures, counts(store, MODEL_ID)[:3]) == (1, (0, 3, 0))
    provider.down = False
    report = worker.run_once()
    assert (report.embedded, report.refused, report.error) == (2, 1, None)
    assert error_of(store, memories[1].id) == "input length exceeds the context length"
    assert counts(store, MODEL_ID)[:3] == (2, 0, 1)
    calls = len(provider.calls)
    service.update(memories[1].id, {"importance": 0.9})  # the same text: still refused
    assert worker.run_once().refused == 0
    assert len(provider.calls) == calls  # not retried

    service.update(memories[1].id, {"content": "a text it accepts"})
    assert error_of(store, memories[1].id) is None  # migration 0004's trigger
    assert worker.run_once().embedded == 1
    assert counts(store, MODEL_ID)[:3] == (3, 0, 0)


def test_an_ollama_model_not_pulled_is_an_error_not_a_refusal_of_every_text(
    store: LocalStore, standin: OllamaStandin
) -> None:
    standin.pulled = pulled("all-minilm")
    memory = MemoryService(store).remember({"content": "needs nomic"})
    worker = EmbeddingWorker(store, OllamaEmbedder(standin.url, NOMIC, timeout=5))

    report = worker.run_once()

    assert report.error is not None
    assert "ollama pull nomic-embed-text" in report.error
    assert (report.refused, error_of(store, memory.id)) == (0, None)
    standin.pulled = pulled(NOMIC)
    assert worker.run_once().embedded == 1


def test_run_forever_embeds_backs_off_while_the_provider_fails_and_resumes(
    store: LocalStore, standin: OllamaStandin
) -> None:
    embedder = OllamaEmbedder(standin.url, NOMIC, timeout=5)
    service = MemoryService(store, embedder=embedder)
    first = service.remember({"content": "written before the server started"})
    worker = EmbeddingWorker(store, embedder, backoff=Backoff(base_s=0.01, cap_s=0.05))
    service.embedding_worker = worker

    async def story() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(worker.run_forever(stop, poll_interval_s=300))
        await until(lambda: vector(store, first.id) is not None)
        standin.forced_status = 503
        second = service.remember({"content": "written while Ollama is busy"})  # wakes it
        await until(lambda: worker.failures >= 3)
        assert vector(store, second.id) is None
        standin.forced_status = None
        await until(lambda: vector(store, second.id) is not None and worker.failures == 0)
        stop.set()
        await asyncio.wait_for(loop, timeout=10)

    asyncio.run(story())


def test_stop_ends_run_forever_between_batches_of_a_long_pass(
    store: LocalStore, local: LocalEmbedder
) -> None:
    service = MemoryService(store)
    for i in range(300):
        service.remember({"content": f"build note number {i}"})
    worker = EmbeddingWorker(store, local, batch_size=1)

    async def story() -> None:
        stop = asyncio.Event()
        loop = asyncio.create_task(worker.run_forever(stop))
        await until(lambda: counts(store, MODEL_ID)[0] > 0)
        stop.set()
        await asyncio.wait_for(loop, timeout=30)

    asyncio.run(story())
    embedded, missing, _, _ = counts(store, MODEL_ID)
    assert embedded > 0
    assert missing > 0  # the pass stopped part-way instead of running to its end


# -- replication of vectors ----------------------------------------------------------------------


def drain(store: LocalStore, replica: Replica, now: datetime) -> int:
    drainer = Replicator(store, replica, origin="unit", clock=lambda: now)  # type: ignore[arg-type]
    return asyncio.run(drainer.run_once()).embeddings


def test_vectors_travel_after_their_memory_once_and_are_marked_synced(
    store: LocalStore, local: LocalEmbedder
) -> None:
    service = MemoryService(store)
    memory = service.remember({"content": "the replica gets vectors after memories"})
    dropped = service.remember({"content": "a vector that never left"})
    EmbeddingWorker(store, local).run_once()
    # New text drops the unsent vector; the memory is then forgotten: nothing of it is to send.
    service.update(dropped.id, {"content": "new words, no vector yet"})
    service.forget(dropped.id)
    replica = Replica()
    replica.refuse = {memory.id}
    start = datetime(2026, 3, 1, tzinfo=UTC)

    assert drain(store, replica, start) == 0  # the memory was refused: its vector waits
    assert (replica.sent, counts(store, MODEL_ID)[3]) == ([], 1)

    replica.refuse = set()
    assert drain(store, replica, start + timedelta(days=1)) == 1
    sent = Embedded(str(memory.id), str(memory.event_id), vector(store, memory.id) or [], MODEL_ID)
    assert (replica.sent, counts(store, MODEL_ID)[3]) == ([sent], 0)
    assert drain(store, replica, start + timedelta(days=2)) == 0
    assert len(replica.sent) == 1


def test_a_vector_of_a_version_superseded_while_sending_is_sent_again_for_the_new_one(
    store: LocalStore, local: LocalEmbedder
) -> None:
    service = MemoryService(store)
    memory = service.remember({"content": "importance changes while the vector is in flight"})
    EmbeddingWorker(store, local).run_once()
    replica = Replica()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    replica.during = lambda: service.update(memory.id, {"importance": 0.9})

    drain(store, replica, now)

    assert counts(store, MODEL_ID)[3] == 1  # not marked synced for version 2
    drain(store, replica, now)
    version_2 = str(service.get(memory.id).event_id)
    assert [item.event_id for item in replica.sent] == [str(memory.event_id), version_2]
    assert counts(store, MODEL_ID)[3] == 0


# -- recall and reembed --------------------------------------------------------------------------

FLAKY = "The flaky test fails because it depends on the system clock"
OTHERS = [
    "the CSS grid uses 12 columns",
    "invoices are exported to PDF every month",
    "the Kafka consumer reads from three partitions",
    "password fields are case sensitive",
]
QUERY = "sporadic CI breakage caused by timing-sensitive assertions"  # no word (or stem) of FLAKY


def test_semantic_search_finds_meaning_where_keyword_search_finds_words(
    store: LocalStore, local: LocalEmbedder
) -> None:
    service = MemoryService(store, embedder=local)
    target = service.remember({"content": FLAKY})
    for text in OTHERS:
        service.remember({"content": text})
    EmbeddingWorker(store, local).run_once()

    assert service.search(QUERY, mode="semantic")[0].memory.id == target.id
    keyword = service.search(QUERY, mode="keyword")
    assert [hit.memory.content for hit in keyword] == ["password fields are case sensitive"]
    assert target.id in {hit.memory.id for hit in service.search(QUERY, mode="hybrid")}


def test_search_modes_without_a_usable_provider(store: LocalStore, standin: OllamaStandin) -> None:
    for embedder in (NoEmbedder(), None):
        with pytest.raises(UnavailableError, match="MEMVAULT_EMBEDDINGS"):
            MemoryService(store, embedder=embedder).search("anything", mode="semantic")
    standin.stop()
    down = MemoryService(store, embedder=OllamaEmbedder(standin.url, NOMIC, timeout=2))
    for text in [FLAKY, *OTHERS]:
        down.remember({"content": text})

    hybrid = down.search("case sensitive password", mode="hybrid")

    keyword = down.search("case sensitive password", mode="keyword")
    assert [h.memory.id for h in hybrid] == [h.memory.id for h in keyword] != []
    assert all(hit.vector_rank is None for hit in hybrid)
    with pytest.raises(InvalidInputError) as raised:
        down.search("password", mode="fuzzy")
    assert raised.value.problems[0]["field"] == "mode"


def test_reembed_fills_in_what_is_missing_and_everything_on_request(
    store: LocalStore, local: LocalEmbedder
) -> None:
    service = MemoryService(store, embedder=local)
    memories = [service.remember({"content": text}) for text in [FLAKY, *OTHERS]]
    service.forget(memories[-1].id)
    steps: list[tuple[int, int]] = []

    first = asyncio.run(service.reembed(progress=lambda done, total: steps.append((done, total))))

    assert (first.model, first.dimension, first.embedded, first.remaining) == (MODEL_ID, 384, 4, 0)
    assert (first.index_rebuilt, first.sent, steps[-1]) == (None, 0, (4, 4))
    assert asyncio.run(service.reembed()).embedded == 0
    assert asyncio.run(service.reembed(everything=True)).embedded == 4
    assert (service.embedding_counts().embedded, service.embedding_counts().missing) == (4, 0)


def test_reembed_with_the_provider_down_raises_and_keeps_what_was_embedded(
    store: LocalStore, standin: OllamaStandin
) -> None:
    service = MemoryService(store, embedder=OllamaEmbedder(standin.url, NOMIC, timeout=2))
    kept = [service.remember({"content": text}).id for text in OTHERS[:2]]
    assert asyncio.run(service.reembed()).embedded == 2
    vectors = [vector(store, i) for i in kept]
    service.remember({"content": "written after the server went away"})
    standin.stop()

    with pytest.raises(UnavailableError, match="embedding stopped"):
        asyncio.run(service.reembed())
    fresh = MemoryService(store, embedder=OllamaEmbedder(standin.url, NOMIC, timeout=2))
    with pytest.raises(UnavailableError):
        asyncio.run(fresh.reembed(everything=True))

    assert counts(store, NOMIC)[:2] == (2, 1)
    assert [vector(store, i) for i in kept] == vectors
