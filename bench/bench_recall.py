"""Recall: MemoryService.search() over a store of 10,000 (or --size) memories, keyword and hybrid.

    .venv/bin/python bench/bench_recall.py [--size 10000 [100000 …]] [-q 500] [--dim 384]
                                           [--json PATH]

For each size: load a fresh store through service.remember() (one transaction per memory, as
agents write; the load time is reported), then time `-q` keyword queries of 1-3 corpus words,
half of them with project and/or type filters, at the default limit of 20 hits. Then give every
memory a `--dim` embedding and time the same queries as hybrid recall (keyword + vector, fused
by reciprocal rank). The vectors are seeded random unit vectors, written straight into the file
as a benchmark fixture: latency depends on their count and dimension, not on their meaning
(recall quality is measured separately, with a real model).
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import Corpus, Report, base_parser, print_header, store_bytes, throughput
from memvault.service import MemoryService
from memvault.store import LocalStore, queries

TARGETS_P50_MS = {10_000: 20.0, 100_000: 50.0}  # the targets, by store size
TARGET_SIZE = 10_000
WARMUP_QUERIES = 20


def load(report: Report, service: MemoryService, corpus: Corpus, size: int) -> None:
    """Fill the store with `size` memories, reporting how long it took."""
    clock = time.perf_counter
    started = clock()
    for _ in range(size):
        service.remember(corpus.memory())
    elapsed = clock() - started
    report.value(f"recall[{size}] load time", elapsed, "s")
    report.value(f"recall[{size}] load rate", throughput(size, elapsed), "memories/s")


def run_queries(
    report: Report,
    service: MemoryService,
    queries: list[tuple[str, str, dict[str, Any]]],
    size: int,
    vectors: list[list[float]] | None = None,
) -> None:
    """Time every query (hybrid when query vectors are given); report all, then by filter."""
    mode = "hybrid" if vectors else "keyword"
    clock = time.perf_counter
    for i, (_, text, flt) in enumerate(queries[:WARMUP_QUERIES]):
        t0 = clock()
        service.search(text, flt, vector=vectors[i] if vectors else None)
        if i == 0 and vectors:  # the first hybrid query loads the vector matrix
            report.value(f"recall[{size}] vector index load", clock() - t0, "s")
    by_kind: dict[str, list[float]] = {}
    every: list[float] = []
    hits = 0
    for i, (kind, text, flt) in enumerate(queries[WARMUP_QUERIES:], start=WARMUP_QUERIES):
        t0 = clock()
        found = service.search(text, flt, vector=vectors[i] if vectors else None)
        elapsed = clock() - t0
        every.append(elapsed)
        by_kind.setdefault(kind, []).append(elapsed)
        hits += len(found)
    report.latency(f"recall[{size}] {mode} search", every, TARGETS_P50_MS.get(size))
    for kind in sorted(by_kind):
        report.latency(f"recall[{size}]   {mode} filter={kind}", by_kind[kind])
    report.value(f"recall[{size}] {mode} mean hits per query", hits / len(every), "hits")


def unit_vectors(seed: int, count: int, dim: int) -> list[list[float]]:
    """Seeded random unit vectors (numpy: 100,000 x 384 in Python floats would take minutes)."""
    import numpy as np

    raw = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return (raw / np.linalg.norm(raw, axis=1, keepdims=True)).tolist()


def add_embeddings(db_path: Path, dim: int, seed: int) -> None:
    """Give every memory a seeded random embedding (the benchmark's fixture, written in SQL:
    the store's own write paths are measured elsewhere)."""
    from memvault.store.rows import pack_embedding

    conn = sqlite3.connect(db_path)
    try:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM memories")]
        with conn:
            conn.executemany(
                "UPDATE memories SET embedding = ?, embedding_model = 'bench-random',"
                " embedding_dim = ? WHERE seq = ?",
                [
                    (pack_embedding(v), dim, seq)
                    for seq, v in zip(seqs, unit_vectors(seed, len(seqs), dim), strict=True)
                ],
            )
    finally:
        conn.close()


def describe_store(
    report: Report, db_path: Path, workload: list[tuple[str, str, dict[str, Any]]], size: int
) -> None:
    """What the latency depends on: rows each query's MATCH finds, and where the bytes are.

    Read-only SQL straight on the file: a benchmark's instrument, not a path memvault serves.
    """
    mib = 1024 * 1024
    report.value(f"recall[{size}] store file size", store_bytes(db_path) / mib, "MiB")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        matched = [
            conn.execute(
                "SELECT count(*) FROM memories_fts WHERE memories_fts MATCH ?",
                (queries.fts_expression(text),),
            ).fetchone()[0]
            for _, text, _ in workload[WARMUP_QUERIES:]
        ]
        report.value(f"recall[{size}] rows matched (median)", statistics.median(matched), "rows")
        try:
            pages = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
        except sqlite3.OperationalError:
            return  # this SQLite was built without the dbstat table; the total is enough
    finally:
        conn.close()
    groups = {"outbox (sync_queue)": 0, "memories": 0, "fts index": 0, "other indexes": 0}
    for name, nbytes in pages:
        if name in ("sync_queue", "sqlite_sequence"):
            groups["outbox (sync_queue)"] += nbytes
        elif name == "memories":
            groups["memories"] += nbytes
        elif name.startswith("memories_fts"):
            groups["fts index"] += nbytes
        else:
            groups["other indexes"] += nbytes
    for group, nbytes in groups.items():
        report.value(f"recall[{size}]   bytes in {group}", nbytes / mib, "MiB")


def bench_size(report: Report, size: int, query_count: int, seed: int, tmp: Path, dim: int) -> None:
    """One fresh store of `size` memories: load, query, then measure the file."""
    corpus = Corpus(seed)
    workload = [corpus.query() for _ in range(query_count + WARMUP_QUERIES)]
    db_path = tmp / f"size-{size}" / "memvault.db"
    store = LocalStore.open(db_path)
    try:
        service = MemoryService(store)
        load(report, service, corpus, size)
        run_queries(report, service, workload, size)
    finally:
        store.close()  # the last connection closing checkpoints the WAL into the main file
    describe_store(report, db_path, workload, size)
    if dim:
        add_embeddings(db_path, dim, seed)
        store = LocalStore.open(db_path)
        try:
            query_vectors = unit_vectors(seed + 1, len(workload), dim)
            run_queries(report, MemoryService(store), workload, size, query_vectors)
        finally:
            store.close()


def main(argv: list[str] | None = None) -> Report:
    """Run the recall benchmark for each requested size."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, nargs="+", default=[TARGET_SIZE], help="store sizes (%(default)s)"
    )
    parser.add_argument("-q", "--queries", type=int, default=500, help="timed queries (500)")
    parser.add_argument(
        "--dim", type=int, default=384, help="embedding dimension for hybrid recall; 0 skips it"
    )
    args = parser.parse_args(argv)
    if any(size < 1 for size in args.size) or args.queries < 1 or args.dim < 0:
        parser.error("--size and --queries must be at least 1, --dim at least 0")

    sizes = ", ".join(f"{size:,}" for size in args.size)
    print_header(
        f"recall: {args.queries} keyword (then hybrid, {args.dim}-dim) queries over stores of"
        f" {sizes} memories"
    )
    report = Report()
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        for size in args.size:
            bench_size(report, size, args.queries, args.seed, Path(tmp), args.dim)
    if args.json:
        params = {"sizes": args.size, "queries": args.queries, "dim": args.dim}
        report.write_json(args.json, "recall", params)
    return report


if __name__ == "__main__":
    main()
