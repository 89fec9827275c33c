"""Choose the embedding provider from settings (MEMVAULT_EMBEDDINGS)."""

from __future__ import annotations

from memvault.config import Settings
from memvault.embeddings.base import Embedder


def create_embedder(settings: Settings) -> Embedder:
    """The configured provider; nothing is loaded or contacted until it is first used, and a
    provider's modules (numpy, httpx) are imported only when it is the chosen one, so commands
    that never embed start fast."""
    if settings.embeddings == "local":
        from memvault.embeddings.local import LocalEmbedder

        return LocalEmbedder()
    if settings.embeddings == "ollama":
        from memvault.embeddings.ollama import OllamaEmbedder

        return OllamaEmbedder(settings.ollama_url, settings.ollama_embed_model)
    from memvault.embeddings.none import NoEmbedder

    return NoEmbedder()


def index_dimensions(settings: Settings) -> int:
    """The size the replica's vector index should have: MEMVAULT_VECTOR_DIMENSIONS when set,
    else the active model's dimension (Ollama is asked; embeddings off: the local model's)."""
    if settings.vector_dimensions is not None:
        return settings.vector_dimensions
    embedder = create_embedder(settings)
    try:
        dimension = embedder.info().dimension
    finally:
        embedder.close()
    if dimension is None:
        from memvault.embeddings.local import DIMENSION

        return DIMENSION
    return dimension
