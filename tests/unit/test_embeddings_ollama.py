"""The Ollama embedding client against a stand-in speaking Ollama's documented wire contract."""

from __future__ import annotations

import math
from collections.abc import Iterator

import pytest

from memvault.embeddings.ollama import OllamaEmbedder
from memvault.errors import RejectedError, UnavailableError
from ollama_standin import OllamaStandin, pulled, unit_vector

NOMIC = "nomic-embed-text"


@pytest.fixture
def ollama() -> Iterator[OllamaStandin]:
    with OllamaStandin(pulled=pulled(NOMIC, "all-minilm")) as standin:
        yield standin


@pytest.fixture
def embedder(ollama: OllamaStandin) -> Iterator[OllamaEmbedder]:
    client = OllamaEmbedder(ollama.url, NOMIC, timeout=5.0)
    yield client
    client.close()


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_documents_and_queries_go_to_api_embed_with_nomic_task_prefixes(
    ollama: OllamaStandin, embedder: OllamaEmbedder
) -> None:
    documents = embedder.embed_documents(["JWT tokens expire after 15 minutes", "use WAL mode"])
    query = embedder.embed_query("how long do tokens live")

    assert ollama.paths() == ["/api/embed", "/api/embed"]
    assert ollama.inputs() == [
        "search_document: JWT tokens expire after 15 minutes",
        "search_document: use WAL mode",
        "search_query: how long do tokens live",
    ]
    assert documents[0] == pytest.approx(
        unit_vector(NOMIC, "search_document: JWT tokens expire after 15 minutes")
    )
    assert query == pytest.approx(unit_vector(NOMIC, "search_query: how long do tokens live"))
    assert all(type(x) is float for x in query)


def test_a_model_without_task_prefixes_gets_the_text_as_it_is(ollama: OllamaStandin) -> None:
    client = OllamaEmbedder(ollama.url, "all-minilm:latest")
    try:
        client.embed_documents(["plain text"])
        client.embed_query("plain query")
    finally:
        client.close()
    assert ollama.inputs() == ["plain text", "plain query"]


def test_a_tagged_nomic_model_name_still_gets_the_prefixes(ollama: OllamaStandin) -> None:
    client = OllamaEmbedder(ollama.url, "nomic-embed-text:latest")
    try:
        client.embed_query("q")
    finally:
        client.close()
    assert ollama.inputs() == ["search_query: q"]


def test_a_large_batch_is_sent_in_chunks_and_comes_back_in_order(
    ollama: OllamaStandin, embedder: OllamaEmbedder
) -> None:
    texts = [f"memory number {i}" for i in range(70)]

    vectors = embedder.embed_documents(texts)

    assert len(vectors) == 70
    for text, vector in zip(texts, vectors, strict=True):
        assert vector == pytest.approx(unit_vector(NOMIC, f"search_document: {text}"))
    batch_sizes = [len(r.body["input"]) for r in ollama.requests]
    assert batch_sizes == [32, 32, 6]
    assert embedder.embed_documents([]) == []
    assert len(ollama.requests) == 3  # nothing sent for an empty batch


def test_an_older_server_without_api_embed_is_served_through_api_embeddings(
    ollama: OllamaStandin, embedder: OllamaEmbedder
) -> None:
    ollama.legacy = True

    first = embedder.embed_documents(["alpha", "beta"])
    second = embedder.embed_query("gamma")

    # One 404 for the route, then one legacy request per text; /api/embed is not asked again.
    assert ollama.paths() == ["/api/embed"] + ["/api/embeddings"] * 3
    assert embedder.uses_legacy_endpoint
    assert [r.body for r in ollama.requests[1:]] == [
        {"model": NOMIC, "prompt": "search_document: alpha"},
        {"model": NOMIC, "prompt": "search_document: beta"},
        {"model": NOMIC, "prompt": "search_query: gamma"},
    ]
    # The legacy endpoint returns raw vectors; the client normalises them.
    for vector in [*first, second]:
        assert norm(vector) == pytest.approx(1.0, abs=1e-9)
    assert first[0] == pytest.approx(unit_vector(NOMIC, "search_document: alpha"))


def test_a_missing_model_is_rejected_with_the_pull_command_and_no_fallback(
    ollama: OllamaStandin,
) -> None:
    client = OllamaEmbedder(ollama.url, "mxbai-embed-large")
    try:
        with pytest.raises(RejectedError, match=r"ollama pull mxbai-embed-large"):
            client.embed_query("anything")
        assert not client.uses_legacy_endpoint
    finally:
        client.close()
    assert ollama.paths() == ["/api/embed"]


def test_a_missing_model_on_an_older_server_is_rejected_too(ollama: OllamaStandin) -> None:
    ollama.legacy = True
    client = OllamaEmbedder(ollama.url, "mxbai-embed-large")
    try:
        with pytest.raises(RejectedError, match=r"ollama pull mxbai-embed-large"):
            client.embed_documents(["anything"])
    finally:
        client.close()
    assert ollama.paths() == ["/api/embed", "/api/embeddings"]


def test_bad_input_400_is_rejected_with_the_servers_message(ollama: OllamaStandin) -> None:
    client = OllamaEmbedder(ollama.url, "")  # Ollama: 400 "model is required"
    try:
        with pytest.raises(RejectedError, match="model is required"):
            client.embed_query("anything")
    finally:
        client.close()


@pytest.mark.parametrize(("status", "says"), [(500, "500"), (503, "queue is full")])
def test_server_errors_are_unavailable_so_the_caller_retries(
    ollama: OllamaStandin, embedder: OllamaEmbedder, status: int, says: str
) -> None:
    ollama.forced_status = status
    with pytest.raises(UnavailableError, match=says):
        embedder.embed_documents(["x"])
    ollama.forced_status = None
    assert len(embedder.embed_documents(["x"])) == 1  # the same client works once it recovers


def test_a_server_that_goes_down_is_unavailable(
    ollama: OllamaStandin, embedder: OllamaEmbedder
) -> None:
    embedder.embed_query("warm the connection pool")
    ollama.stop()
    with pytest.raises(UnavailableError, match=r"ollama serve|OLLAMA_URL"):
        embedder.embed_query("again")
    with pytest.raises(UnavailableError):
        embedder.embed_documents(["and again, on a fresh connection"])


def test_a_server_that_never_answers_times_out_as_unavailable(ollama: OllamaStandin) -> None:
    ollama.hang = True
    client = OllamaEmbedder(ollama.url, NOMIC, timeout=0.3)
    try:
        with pytest.raises(UnavailableError, match="timed out"):
            client.embed_query("anything")
    finally:
        client.close()


def test_info_probes_the_dimension_once(ollama: OllamaStandin, embedder: OllamaEmbedder) -> None:
    info = embedder.info()
    again = embedder.info()

    assert (info.provider, info.model, info.dimension) == ("ollama", NOMIC, 768)
    assert again == info
    assert ollama.paths() == ["/api/embed"]


def test_info_raises_like_embedding_when_the_server_is_down(ollama: OllamaStandin) -> None:
    ollama.stop()
    client = OllamaEmbedder(ollama.url, NOMIC)
    try:
        with pytest.raises(UnavailableError):
            client.info()
    finally:
        client.close()


def test_health_up_with_the_model_pulled(ollama: OllamaStandin, embedder: OllamaEmbedder) -> None:
    health = embedder.health()
    assert (health.ok, health.reachable, health.model_pulled) == (True, True, True)
    assert set(health.pulled) == {"nomic-embed-text:latest", "all-minilm:latest"}
    assert ollama.paths() == ["/api/tags"]


def test_health_up_without_the_model_says_what_to_pull(ollama: OllamaStandin) -> None:
    ollama.pulled = pulled("all-minilm")
    client = OllamaEmbedder(ollama.url, NOMIC)
    try:
        health = client.health()
    finally:
        client.close()
    assert (health.ok, health.reachable, health.model_pulled) == (False, True, False)
    assert "ollama pull nomic-embed-text" in health.detail


def test_health_of_a_server_that_is_down(ollama: OllamaStandin) -> None:
    ollama.stop()
    client = OllamaEmbedder(ollama.url, NOMIC, timeout=2.0)
    try:
        health = client.health()
    finally:
        client.close()
    assert (health.ok, health.reachable) == (False, False)
    assert ollama.url in health.detail
