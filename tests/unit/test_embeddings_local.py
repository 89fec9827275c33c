"""The bundled local model (all-MiniLM-L6-v2, int8 ONNX): meaning, shape, batching, edge texts."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator

import pytest

from memvault.embeddings.local import DIMENSION, MAX_TOKENS, MODEL_ID, LocalEmbedder

# (anchor, related: same meaning in other words, unrelated) from a developer's memory.
TRIPLETS = [
    (
        "JWT tokens expire after 15 minutes",
        "access tokens have a short lifetime",
        "the CSS grid uses 12 columns",
    ),
    (
        "The SQLite database is locked when two processes write at once",
        "concurrent writers hit 'database is locked' errors",
        "the login button is blue on the landing page",
    ),
    (
        "Deploy the API with docker compose up on the staging server",
        "how to ship the backend to staging using containers",
        "unit tests use pytest fixtures for temporary folders",
    ),
    (
        "We chose PostgreSQL over MongoDB because we need transactions",
        "the team decided on a relational database for ACID guarantees",
        "the mobile app shows a splash screen for two seconds",
    ),
    (
        "The flaky test fails because it depends on the system clock",
        "an intermittent CI failure caused by time-dependent assertions",
        "invoices are exported to PDF every month",
    ),
    (
        "Run ruff and mypy before every commit",
        "lint and type-check the code prior to committing",
        "the Kafka consumer reads from three partitions",
    ),
    (
        "The memory leak came from an unclosed file handle in the worker",
        "the background job leaked file descriptors",
        "dark mode colours are defined in the theme file",
    ),
    (
        "Rate limiting returns HTTP 429 after 100 requests per minute",
        "too many requests are throttled by the API",
        "the README explains how to install the CLI",
    ),
]


@pytest.fixture(scope="module")
def embedder() -> Iterator[LocalEmbedder]:
    model = LocalEmbedder()
    yield model
    model.close()


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))  # the vectors are unit length


@pytest.mark.parametrize(("anchor", "related", "unrelated"), TRIPLETS, ids=lambda t: t[:24])
def test_related_sentences_are_closer_than_unrelated_ones(
    embedder: LocalEmbedder, anchor: str, related: str, unrelated: str
) -> None:
    a, r, u = embedder.embed_documents([anchor, related, unrelated])
    assert cosine(a, r) > cosine(a, u) + 0.1


def test_a_query_finds_its_memory_among_all_the_others(embedder: LocalEmbedder) -> None:
    memories = embedder.embed_documents([anchor for anchor, _, _ in TRIPLETS])
    for expected, (_, related, _) in enumerate(TRIPLETS):
        query = embedder.embed_query(related)
        scores = [cosine(query, memory) for memory in memories]
        assert scores.index(max(scores)) == expected, related


def test_vectors_are_384_plain_floats_of_unit_length(embedder: LocalEmbedder) -> None:
    info = embedder.info()
    assert (info.provider, info.model, info.dimension) == ("local", MODEL_ID, 384)
    for vector in embedder.embed_documents(["short", "a somewhat longer sentence about Neo4j"]):
        assert len(vector) == DIMENSION
        assert all(type(x) is float for x in vector)
        assert math.sqrt(sum(x * x for x in vector)) == pytest.approx(1.0, abs=1e-5)


def test_a_batch_gives_the_same_vectors_as_one_text_at_a_time(embedder: LocalEmbedder) -> None:
    # More than one ONNX batch (32), lengths from one word to a paragraph, so padding varies.
    texts = [
        " ".join([anchor] * (1 + i % 5)) if i % 3 else anchor.split()[0]
        for i, (anchor, _, _) in enumerate(TRIPLETS * 5)
    ]
    batched = embedder.embed_documents(texts)
    assert len(batched) == len(texts)
    for text, vector in zip(texts, batched, strict=True):
        assert vector == pytest.approx(embedder.embed_documents([text])[0], abs=1e-5)


def test_a_query_is_embedded_like_a_document(embedder: LocalEmbedder) -> None:
    # MiniLM has no task prefixes: a query and a stored text with the same words are one vector.
    text = "why does the replicator retry forever"
    assert embedder.embed_query(text) == pytest.approx(embedder.embed_documents([text])[0])


def test_empty_and_blank_text_get_a_vector_like_any_other(embedder: LocalEmbedder) -> None:
    empty, blank, word = embedder.embed_documents(["", "   \n", "token"])
    assert len(empty) == DIMENSION
    assert math.sqrt(sum(x * x for x in empty)) == pytest.approx(1.0, abs=1e-5)
    assert blank == pytest.approx(empty, abs=1e-6)  # both are the bare [CLS] [SEP] encoding
    assert word != pytest.approx(empty, abs=1e-3)
    assert embedder.embed_documents([]) == []


def test_text_beyond_256_tokens_is_truncated(embedder: LocalEmbedder) -> None:
    head = " ".join(["database"] * (MAX_TOKENS + 10))
    long_a = embedder.embed_query(head + " kubernetes deployment rollout")
    long_b = embedder.embed_query(head + " the invoice exporter crashed")
    assert long_a == pytest.approx(long_b, abs=1e-6)
    short_a = embedder.embed_query("database kubernetes deployment rollout")
    short_b = embedder.embed_query("database the invoice exporter crashed")
    assert short_a != pytest.approx(short_b, abs=1e-3)


def test_threads_racing_on_first_use_all_get_the_same_vector() -> None:
    model = LocalEmbedder(threads=1)
    results: list[list[float]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def work() -> None:
        start.wait()
        try:
            results.append(model.embed_query("the outbox drains in batches of 500"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    model.close()
    assert errors == []
    assert len(results) == 4
    assert all(r == pytest.approx(results[0], abs=1e-6) for r in results)


def test_bad_constructor_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        LocalEmbedder(threads=0)
