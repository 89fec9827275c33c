"""MEMVAULT_EMBEDDINGS picks the provider; "none" refuses to embed and says how to turn it on."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from memvault.config import Settings
from memvault.embeddings import create_embedder
from memvault.embeddings.local import LocalEmbedder
from memvault.embeddings.none import NoEmbedder
from memvault.embeddings.ollama import OllamaEmbedder
from memvault.errors import RejectedError
from ollama_standin import OllamaStandin


def settings_for(tmp_path: Path, **env: str) -> Settings:
    fields: dict[str, object] = {"_env_file": None, "home": tmp_path, **env}
    return Settings(**fields)  # type: ignore[arg-type]


def test_the_default_is_the_bundled_local_model(tmp_path: Path) -> None:
    embedder = create_embedder(settings_for(tmp_path))
    try:
        assert isinstance(embedder, LocalEmbedder)
        assert embedder.info().dimension == 384
        assert len(embedder.embed_query("hello")) == 384
    finally:
        embedder.close()


def test_ollama_is_built_from_its_url_and_model_settings(tmp_path: Path) -> None:
    with OllamaStandin() as ollama:
        settings = settings_for(
            tmp_path,
            MEMVAULT_EMBEDDINGS="ollama",
            OLLAMA_URL=ollama.url,
            OLLAMA_EMBED_MODEL="nomic-embed-text",
        )
        embedder = create_embedder(settings)
        try:
            assert isinstance(embedder, OllamaEmbedder)
            assert ollama.requests == []  # nothing is contacted until first use
            info = embedder.info()
        finally:
            embedder.close()
    assert (info.provider, info.model, info.dimension) == ("ollama", "nomic-embed-text", 768)


def test_none_has_no_dimension_and_refuses_to_embed(tmp_path: Path) -> None:
    embedder = create_embedder(settings_for(tmp_path, MEMVAULT_EMBEDDINGS="none"))
    assert isinstance(embedder, NoEmbedder)
    info = embedder.info()
    assert (info.provider, info.dimension) == ("none", None)
    with pytest.raises(RejectedError, match=r"MEMVAULT_EMBEDDINGS=none"):
        embedder.embed_documents(["text"])
    with pytest.raises(RejectedError, match=r"embeddings are off"):
        embedder.embed_query("text")
    embedder.close()


def test_an_unknown_provider_is_a_settings_error_naming_the_variable(tmp_path: Path) -> None:
    with pytest.raises(pydantic.ValidationError, match="MEMVAULT_EMBEDDINGS") as caught:
        settings_for(tmp_path, MEMVAULT_EMBEDDINGS="openai")
    assert "'local', 'ollama' or 'none'" in str(caught.value)
