"""`memvault reembed`: after a model change, every memory gets a vector of the new model, here
and on the replica, whose vector index is rebuilt to the model's dimension."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from memvault.embeddings.base import Embedder
from memvault.embeddings.worker import EmbeddingWorker
from memvault.errors import UnavailableError
from memvault.store import LocalStore

if TYPE_CHECKING:
    from memvault.sync.engine import SyncEngine


@dataclass(frozen=True)
class ReembedReport:
    """What a re-embedding did, here and on the replica."""

    provider: str
    model: str
    dimension: int
    embedded: int  # vectors computed and written locally
    refused: int  # texts the provider refused (kept with the reason; `memvault status`)
    remaining: int  # still without a vector of the model (memories changed meanwhile)
    index_rebuilt: bool | None  # the replica's vector index was resized; None: no replica
    sent: int  # vectors the replica took

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def reembed(
    store: LocalStore,
    embedder: Embedder,
    sync: SyncEngine | None,
    *,
    everything: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ReembedReport:
    """Re-embed what lacks a vector of the active model (everything, when asked), then resize
    the replica's vector index and send the vectors. Raises UnavailableError when the provider
    is down (what was embedded before stays written and is not redone)."""
    info = embedder.info()
    if info.dimension is None:
        raise UnavailableError("embeddings are off: set MEMVAULT_EMBEDDINGS=local or ollama")
    if everything:
        await asyncio.to_thread(store.embeddings.invalidate)
    total = store.embeddings.counts(info.model).missing

    def step(done: int) -> None:
        if progress is not None:
            progress(done, total)

    worker = EmbeddingWorker(store, embedder)
    report = await asyncio.to_thread(worker.run_once, None, step)
    if report.error is not None:
        raise UnavailableError(f"embedding stopped: {report.error}")
    rebuilt: bool | None = None
    sent = 0
    if sync is not None:
        from memvault.remote.neo4j import Neo4jReplica
        from memvault.remote.schema import rebuild_vector_index

        if isinstance(sync.replica, Neo4jReplica):
            rebuilt = await rebuild_vector_index(sync.replica, info.dimension)
        drained = await sync.push()
        if drained.error is not None:
            raise UnavailableError(f"vectors are stored here; sending them failed: {drained.error}")
        sent = drained.embeddings
    return ReembedReport(
        provider=info.provider,
        model=info.model,
        dimension=info.dimension,
        embedded=report.embedded,
        refused=report.refused,
        remaining=store.embeddings.counts(info.model).missing,
        index_rebuilt=rebuilt,
        sent=sent,
    )
