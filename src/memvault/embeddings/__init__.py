"""Embedding providers behind one small protocol: the bundled local model, Ollama, or none.

`create_embedder(settings)` picks one by `MEMVAULT_EMBEDDINGS`; `base.py` holds the contract.
"""

from memvault.embeddings.base import Embedder, EmbedderInfo
from memvault.embeddings.factory import create_embedder

__all__ = ["Embedder", "EmbedderInfo", "create_embedder"]
