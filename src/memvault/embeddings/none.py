"""Provider "none": embeddings are switched off; recall is keyword-only."""

from __future__ import annotations

from collections.abc import Sequence

from memvault.embeddings.base import EmbedderInfo
from memvault.errors import RejectedError

OFF_MESSAGE = "embeddings are off (MEMVAULT_EMBEDDINGS=none)"


class NoEmbedder:
    """Says it has no dimension and refuses every request, permanently."""

    def info(self) -> EmbedderInfo:
        """Provider "none", no model, no dimension."""
        return EmbedderInfo(provider="none", model="none", dimension=None)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Always raises RejectedError."""
        raise RejectedError(OFF_MESSAGE)

    def embed_query(self, text: str) -> list[float]:
        """Always raises RejectedError."""
        raise RejectedError(OFF_MESSAGE)

    def close(self) -> None:
        """Nothing to release."""
