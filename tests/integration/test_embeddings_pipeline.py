"""Embeddings end to end: off the write path, filled in when the provider comes back, carried to
Neo4j, re-embedded to another dimension, and restored by recovery without re-embedding.

The local model is the real ONNX all-MiniLM-L6-v2; Ollama is the stand-in of
tests/ollama_standin.py (no Ollama can run here), reached over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ollama_standin import OllamaStandin

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import Neo4jServer, query

ROLLOUT = "how do we roll out code to production"  # no word in common with NOTES[0]
NOTES = (
    "The deploy pipeline uses blue-green releases behind the load balancer",
    "Postgres connection pools are capped at twenty per service",
    "Feature flags are evaluated on the server, never in the browser",
)


@pytest.fixture
def ollama() -> Iterator[OllamaStandin]:
    with OllamaStandin() as standin:
        yield standin


def offline(neo4j: Neo4jServer, home: Path, **env: str) -> MemvaultServer:
    """A MemvaultServer used only for its CLI (no `serve`), with these settings."""
    return MemvaultServer(home=home, neo4j=neo4j, extra_env=env)


def test_a_write_never_waits_for_embeddings_they_follow_and_reach_the_replica(
    empty_replica: Neo4jServer, ollama: OllamaStandin, tmp_path: Path
) -> None:
    ollama.forced_status = 503  # Ollama's "queue full": try again later
    server = MemvaultServer(
        home=tmp_path / "home",
        neo4j=empty_replica,
        extra_env={"MEMVAULT_EMBEDDINGS": "ollama", "OLLAMA_URL": ollama.url},
    )
    server.start()
    try:
        created = httpx.post(f"{server.url}/api/memories", json={"content": NOTES[0]}, timeout=10)
        assert created.status_code == 201  # stored at once, provider down or not
        memory_id = created.json()["id"]
        assert created.json()["embedding_model"] is None
        wait_for(lambda: bool(ollama.requests), "the worker to try the provider")

        ollama.forced_status = None  # Ollama is back: the worker's retry fills the vector in

        def embedded() -> bool:
            got = httpx.get(f"{server.url}/api/memories/{memory_id}", timeout=10).json()
            return bool(got["embedding_model"] == "nomic-embed-text")

        wait_for(embedded, "the embedding to be filled in")
        assert any(text.startswith("search_document: ") for text in ollama.inputs())

        settings = empty_replica.settings(server.home)

        def replicated() -> bool:
            rows = query(
                settings,
                "MATCH (m:Memory {id: $id}) RETURN m.embedding_model AS model,"
                " size(m.embedding) AS dims",
                id=memory_id,
            )
            return bool(rows) and (rows[0]["model"], rows[0]["dims"]) == ("nomic-embed-text", 768)

        wait_for(replicated, "the vector to reach Neo4j")
    finally:
        server.stop()


def test_reembed_to_another_dimension_rebuilds_the_index_and_search_still_works(
    empty_replica: Neo4jServer, ollama: OllamaStandin, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    local = offline(empty_replica, home, MEMVAULT_EMBEDDINGS="local")
    ids = [local.cli("remember", note, "-p", "ops").stdout.strip() for note in NOTES]
    first = local.cli_json("reembed")
    assert (first["model"], first["dimension"], first["embedded"]) == (
        "all-MiniLM-L6-v2-int8",
        384,
        3,
    )
    assert (first["index_rebuilt"], first["sent"]) == (False, 3)  # the index was 384 already

    # Meaning, not words: no word of the query is in the memory it finds.
    hits = local.cli_json("recall", ROLLOUT, "-p", "ops", "--mode", "semantic")
    assert hits[0]["memory"]["id"] == ids[0]
    assert local.cli_json("recall", ROLLOUT, "-p", "ops", "--mode", "keyword") == []

    remote_hits = local.cli_json("recall", ROLLOUT, "-p", "ops", "--mode", "semantic", "--remote")
    assert [h["memory"]["id"] for h in remote_hits][:1] == [ids[0]]

    # The model changes (768 dimensions): every memory is re-embedded, here and remotely.
    other = offline(empty_replica, home, MEMVAULT_EMBEDDINGS="ollama", OLLAMA_URL=ollama.url)
    second = other.cli_json("reembed")
    assert (second["model"], second["dimension"], second["embedded"]) == (
        "nomic-embed-text",
        768,
        3,
    )
    assert (second["index_rebuilt"], second["sent"], second["remaining"]) == (True, 3, 0)
    settings = empty_replica.settings(home)
    dims = query(
        settings,
        "SHOW VECTOR INDEXES YIELD name, options WHERE name = 'memory_embedding'"
        " RETURN options.indexConfig.`vector.dimensions` AS dims",
    )
    assert dims == [{"dims": 768}]
    models = query(settings, "MATCH (m:Memory) RETURN collect(DISTINCT m.embedding_model) AS m")
    assert models == [{"m": ["nomic-embed-text"]}]

    # Search works on both sides with the new vectors, and both sides agree.
    args = ("recall", "connection limits", "-p", "ops", "--mode", "semantic")
    here = [h["memory"]["id"] for h in other.cli_json(*args)]
    there = [h["memory"]["id"] for h in other.cli_json(*args, "--remote")]
    assert sorted(here) == sorted(ids)
    assert here == there


def test_a_recovered_store_has_its_embeddings_without_re_embedding(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    local = offline(empty_replica, home, MEMVAULT_EMBEDDINGS="local")
    ids = [local.cli("remember", note, "-p", "ops").stdout.strip() for note in NOTES]
    assert local.cli_json("reembed")["sent"] == 3
    before = {i: local.cli_json("show", i)["embedding"] for i in ids}

    for path in home.glob("memvault.db*"):
        path.unlink()
    recovered = local.cli_json("recover")
    assert recovered["verified"] is True

    after = {i: local.cli_json("show", i)["embedding"] for i in ids}
    assert after == before  # the vectors came back from Neo4j, bit for bit
    again = local.cli_json("reembed")
    assert (again["embedded"], again["remaining"]) == (0, 0)  # nothing was left to embed
