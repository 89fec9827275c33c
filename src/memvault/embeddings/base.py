"""The contract every embedding provider meets, and the vector helpers they share.

A provider turns text into L2-normalised vectors of plain Python floats. It raises
`UnavailableError` when a later retry may succeed (a server down, a timeout, a full queue) and
`RejectedError` when it will not (an unknown model, bad input, embeddings switched off); callers
decide by type. The text is always kept beside its vector, so a store can be re-embedded with
another model; `EmbedderInfo.model` and `.dimension` are stored with each vector to say which.

Empty or blank text is not an error: it gets a vector like any other text (for the local model,
that of the bare `[CLS] [SEP]` encoding). Deciding whether such a text is worth embedding is the
caller's business.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from memvault.errors import RejectedError

ProviderName = Literal["local", "ollama", "none"]


@dataclass(frozen=True)
class EmbedderInfo:
    """Which provider and model made a vector, and its dimension (None only for "none")."""

    provider: ProviderName
    model: str
    dimension: int | None
    # Cosine below which a memory is not worth returning for a query, on the model's own scale
    # (MiniLM's unrelated pairs score under ~0.15; other models differ). None: no floor.
    min_similarity: float | None = None


class Embedder(Protocol):
    """An embedding provider. Methods are safe to call from several threads."""

    def info(self) -> EmbedderInfo:
        """Provider, model id and dimension; may probe the provider once (raises like embed_*)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per stored text, in order."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query (some models embed queries differently)."""
        ...

    def close(self) -> None:
        """Release connections or sessions; the embedder is not used afterwards."""
        ...


def normalise(vector: Sequence[float], *, source: str) -> list[float]:
    """`vector` scaled to unit length, as plain floats; a zero or non-finite vector is rejected."""
    values = [float(x) for x in vector]
    norm = math.sqrt(math.fsum(x * x for x in values))
    if not values or norm == 0.0 or not math.isfinite(norm):
        raise RejectedError(f"{source} returned an empty, zero or non-finite vector")
    return [x / norm for x in values]
