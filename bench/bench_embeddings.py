"""Local embeddings: all-MiniLM-L6-v2 (int8 ONNX) throughput in batches and single-query latency.

    .venv/bin/python bench/bench_embeddings.py [-n 2000] [--queries 300] [--threads 1 2]
        [--onnx-batch 4] [--json PATH]

Texts are the benchmark corpus's memories (one to three sentences of developer notes; the same
seed gives the same texts). For each intra-op thread count and ONNX batch size: the model's load
time (first call), embed_documents() over all texts in calls of 32 texts (throughput and per-call
latency), then embed_query() one at a time for short keyword queries and memory-length texts.
"""

from __future__ import annotations

import statistics
import time

from common import Corpus, Report, base_parser, print_header, throughput
from memvault.embeddings.local import BATCH_SIZE, MODEL_ID, LocalEmbedder

CALL = 32  # texts per embed_documents() call, as a background worker would pass them

WARMUP = 20  # untimed queries first: ONNX allocates its arenas on the first runs


def bench_setup(
    report: Report,
    threads: int,
    onnx_batch: int,
    corpus_texts: tuple[list[str], list[str], list[str]],
) -> None:
    """Load, throughput and query latency with `threads` intra-op threads and `onnx_batch`."""
    documents, queries, sentences = corpus_texts
    label = f"[{threads}t b{onnx_batch}]"  # threads, ONNX batch size
    clock = time.perf_counter
    embedder = LocalEmbedder(threads=threads, batch_size=onnx_batch)
    try:
        t0 = clock()
        embedder.embed_query("load the model")
        report.value(f"{label} load + first query", (clock() - t0) * 1000.0, "ms")

        for text in queries[:WARMUP]:
            embedder.embed_query(text)
        call_seconds: list[float] = []
        started = clock()
        for first in range(0, len(documents), CALL):
            t0 = clock()
            embedder.embed_documents(documents[first : first + CALL])
            call_seconds.append(clock() - t0)
        elapsed = clock() - started
        report.value(f"{label} embed_documents", throughput(len(documents), elapsed), "texts/s")
        report.latency(f"{label} embed_documents, {CALL} texts", call_seconds)

        timed = (("1-3 words", queries[WARMUP:]), ("memory-length", sentences))
        for name, texts in timed:
            samples = []
            for text in texts:
                t0 = clock()
                embedder.embed_query(text)
                samples.append(clock() - t0)
            report.latency(f"{label} embed_query, {name}", samples)
    finally:
        embedder.close()


def main(argv: list[str] | None = None) -> Report:
    """Measure the local embedding provider for each thread count and ONNX batch size."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2_000, help="texts to embed (2000)")
    parser.add_argument("--queries", type=int, default=300, help="single queries timed (300)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="(1 2)")
    parser.add_argument(
        "--onnx-batch", type=int, nargs="+", default=[BATCH_SIZE], help="(%(default)s)"
    )
    args = parser.parse_args(argv)
    if min(args.n, args.queries, *args.threads, *args.onnx_batch) < 1:
        parser.error("-n, --queries, --threads and --onnx-batch must be at least 1")

    corpus = Corpus(args.seed)
    documents = [corpus.memory()["content"] for _ in range(args.n)]
    queries = [corpus.query()[1] for _ in range(args.queries + WARMUP)]
    sentences = [corpus.memory()["content"] for _ in range(args.queries)]
    mean_chars = statistics.fmean(len(d) for d in documents)
    print_header(
        f"embeddings: {MODEL_ID}, {args.n:,} texts (mean {mean_chars:.0f} chars) in calls of "
        f"{CALL}, {args.queries} single queries"
    )
    report = Report()
    for threads in args.threads:
        for onnx_batch in args.onnx_batch:
            bench_setup(report, threads, onnx_batch, (documents, queries, sentences))
    if args.json:
        params = {
            "n": args.n,
            "queries": args.queries,
            "threads": args.threads,
            "onnx_batch": args.onnx_batch,
        }
        report.write_json(args.json, "embeddings", params)
    return report


if __name__ == "__main__":
    main()
