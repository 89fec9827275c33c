"""Recall quality: recall@5 and MRR@10 of keyword, semantic and hybrid search on a labelled set.

    .venv/bin/python bench/bench_recall_quality.py [--provider local|ollama] [--size 500]
        [--data PATH] [--show-queries] [--json PATH]

The labelled set (bench/data/recall_labelled.json) is hand-written: about a hundred notes of one
team's project (decisions, fixes, procedures, facts), near misses included, and 50 questions a
later session would ask, each naming the one to three notes that answer it. A third of the
questions share their key words with the answer (lexical), a third share few or none
(paraphrase), the rest are in between (mixed). The corpus fills the store up to --size with
seeded memories that are never relevant; all memories go through MemoryService.remember() into
one project, in a seeded shuffled order, then the chosen provider embeds them all through
EmbeddingWorker.run_once() (the embedding time is reported).

Each query then runs through MemoryService.search() in every mode at the default page of 20 hits.
recall@5 is the share of a query's relevant memories among its first 5 hits; MRR@10 is 1/rank of
its first relevant hit within 10 (0 when none). Both are averaged over the queries, overall and
by kind. Last, per query: how many got better or worse with hybrid (and semantic) than keyword.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import Corpus, Report, base_parser, print_header, throughput
from memvault.config import load_settings
from memvault.embeddings.base import Embedder
from memvault.embeddings.factory import create_embedder
from memvault.embeddings.worker import EmbeddingWorker
from memvault.errors import MemvaultError
from memvault.models import MemoryType, SearchMode
from memvault.service import MemoryService
from memvault.store import LocalStore

DATA = Path(__file__).parent / "data" / "recall_labelled.json"
PROJECT = "shop"  # one project: the filters play no part in what is measured
KINDS = ("lexical", "paraphrase", "mixed")
MODES = (SearchMode.KEYWORD, SearchMode.SEMANTIC, SearchMode.HYBRID)
RECALL_AT = 5  # an agent reads the first few hits; 5 is what fits a context preamble
MRR_AT = 10


@dataclass(frozen=True)
class Query:
    """One labelled question and the keys of the memories that answer it."""

    text: str
    relevant: frozenset[str]
    kind: str


@dataclass(frozen=True)
class Labelled:
    """The hand-written memories (by key) and the queries over them."""

    memories: dict[str, dict[str, Any]]
    queries: list[Query]


def load_labelled(path: Path) -> Labelled:
    """Read and check the labelled set; ValueError naming the entry to fix otherwise."""
    document = json.loads(path.read_text(encoding="utf-8"))
    memories: dict[str, dict[str, Any]] = {}
    for i, entry in enumerate(document["memories"]):
        key = entry.get("key")
        if not key or key in memories:
            raise ValueError(f"{path}: memories[{i}] has a missing or duplicate key {key!r}")
        MemoryType(entry["memory_type"])  # raises ValueError on an unknown type
        memories[key] = {
            "content": entry["content"],
            "memory_type": entry["memory_type"],
            "tags": entry.get("tags", []),
        }
    queries: list[Query] = []
    for i, entry in enumerate(document["queries"]):
        relevant = frozenset(entry["relevant"])
        unknown = sorted(relevant - memories.keys())
        if entry["kind"] not in KINDS or not 1 <= len(relevant) <= 3 or unknown:
            raise ValueError(
                f"{path}: queries[{i}] needs a kind among {KINDS} and 1-3 relevant keys that"
                f" exist (unknown: {unknown})"
            )
        queries.append(Query(entry["text"], relevant, entry["kind"]))
    return Labelled(memories, queries)


def fill_store(service: MemoryService, labelled: Labelled, size: int, seed: int) -> dict[str, str]:
    """Remember the labelled memories among corpus filler up to `size`; memory id -> key."""
    corpus = Corpus(seed)
    items: list[tuple[str | None, dict[str, Any]]] = [
        (key, dict(memory)) for key, memory in labelled.memories.items()
    ]
    for _ in range(size - len(items)):
        filler = corpus.memory()
        del filler["session_id"]  # the corpus's sessions belong to its other projects
        items.append((None, filler))
    random.Random(seed).shuffle(items)  # labelled notes must not all be the newest
    keys: dict[str, str] = {}
    for key, payload in items:
        memory = service.remember({**payload, "project_id": PROJECT, "scope": "project"})
        if key is not None:
            keys[str(memory.id)] = key
    return keys


def embed_all(report: Report, store: LocalStore, service: MemoryService, size: int) -> None:
    """Load the model, then embed every memory as the background worker would."""
    embedder = service.embedder
    assert embedder is not None
    clock = time.perf_counter
    t0 = clock()
    embedder.embed_query("load the model")
    report.value("quality model load + first query", (clock() - t0) * 1000.0, "ms")
    t0 = clock()
    result = EmbeddingWorker(store, embedder).run_once()
    elapsed = clock() - t0
    if result.error is not None or result.embedded != size:
        sys.exit(
            f"embedding failed: {result.embedded} of {size} memories embedded, "
            f"{result.refused} refused; {result.error or 'no error reported'}"
        )
    report.value("quality embed time", elapsed, "s")
    report.value("quality embed rate", throughput(size, elapsed), "memories/s")


def recall_at(ranked: list[str | None], relevant: frozenset[str], k: int = RECALL_AT) -> float:
    """Share of the relevant keys among the first `k` hits."""
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: list[str | None], relevant: frozenset[str], k: int = MRR_AT) -> float:
    """1/rank of the first relevant hit within `k`, 0 when there is none."""
    for rank, key in enumerate(ranked[:k], start=1):
        if key in relevant:
            return 1.0 / rank
    return 0.0


def run_mode(
    report: Report, service: MemoryService, keys: dict[str, str], queries: list[Query], mode: str
) -> list[list[str | None]]:
    """Each query's ranked hits in `mode`, as labelled keys (None: a filler memory)."""
    rankings: list[list[str | None]] = []
    seconds: list[float] = []
    for query in queries:
        t0 = time.perf_counter()
        hits = service.search(query.text, None, mode=mode)
        seconds.append(time.perf_counter() - t0)
        rankings.append([keys.get(str(hit.memory.id)) for hit in hits])
    report.latency(f"quality {mode} search", seconds)
    return rankings


def score_mode(
    report: Report, queries: list[Query], mode: str, rankings: list[list[str | None]]
) -> list[tuple[float, float]]:
    """Report recall@5 and MRR@10, overall and by kind; returns each query's pair."""
    scores = [
        (recall_at(ranked, q.relevant), reciprocal_rank(ranked, q.relevant))
        for q, ranked in zip(queries, rankings, strict=True)
    ]
    report.value(f"quality {mode} recall@{RECALL_AT}", statistics.fmean(s[0] for s in scores), "")
    report.value(f"quality {mode} MRR@{MRR_AT}", statistics.fmean(s[1] for s in scores), "")
    for kind in KINDS:
        mine = [s for s, q in zip(scores, queries, strict=True) if q.kind == kind]
        if mine:
            label = f"quality {mode}   {kind}[{len(mine)}]"
            report.value(f"{label} recall@{RECALL_AT}", statistics.fmean(s[0] for s in mine), "")
            report.value(f"{label} MRR@{MRR_AT}", statistics.fmean(s[1] for s in mine), "")
    return scores


def compare(
    report: Report,
    name: str,
    mode: list[tuple[float, float]],
    keyword: list[tuple[float, float]],
) -> None:
    """How many queries `mode` did better or worse than keyword, by recall@5 and by MRR@10."""
    for index, metric in ((0, f"recall@{RECALL_AT}"), (1, f"MRR@{MRR_AT}")):
        pairs = [(m[index], k[index]) for m, k in zip(mode, keyword, strict=True)]
        better = sum(m > k for m, k in pairs)
        worse = sum(m < k for m, k in pairs)
        label = f"quality {name} vs keyword: {metric}"
        report.value(f"{label} up", better, "queries")
        report.value(f"{label} down", worse, "queries")
        report.value(f"{label} same", len(pairs) - better - worse, "queries")


def measure(
    report: Report, embedder: Embedder, labelled: Labelled, size: int, seed: int
) -> dict[str, list[list[str | None]]]:
    """Fill a fresh store, embed it, and run every query in every mode; rankings by mode."""
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        store = LocalStore.open(Path(tmp) / "memvault.db")
        try:
            service = MemoryService(store, embedder=embedder)
            keys = fill_store(service, labelled, size, seed)
            embed_all(report, store, service, size)
            return {mode: run_mode(report, service, keys, labelled.queries, mode) for mode in MODES}
        finally:
            store.close()


def show_queries(queries: list[Query], rankings: dict[str, list[list[str | None]]]) -> None:
    """Per query, the rank of its first relevant hit in each mode ('-': not in the page)."""
    print("   rank of the first relevant hit: keyword / semantic / hybrid")
    for i, query in enumerate(queries):
        ranks = []
        for mode in MODES:
            ranked = rankings[mode.value][i]
            first = next((r for r, key in enumerate(ranked, 1) if key in query.relevant), None)
            ranks.append(f"{first if first else '-':>2}")
        print(f"   {query.kind:<10} {' / '.join(ranks)}   {query.text}")


def main(argv: list[str] | None = None) -> Report:
    """Fill a store with the labelled set, embed it, and score every search mode."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--provider", choices=("local", "ollama"), default="local", help="embeddings (local)"
    )
    parser.add_argument("--size", type=int, default=500, help="memories in the store (500)")
    parser.add_argument("--data", type=Path, default=DATA, help="the labelled set (JSON)")
    parser.add_argument(
        "--show-queries", action="store_true", help="print each query's ranks in every mode"
    )
    args = parser.parse_args(argv)
    try:
        labelled = load_labelled(args.data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        parser.error(f"cannot use the labelled set {args.data}: {exc!r}")
    if args.size < len(labelled.memories):
        parser.error(f"--size must be at least {len(labelled.memories)} (the labelled memories)")

    embedder = create_embedder(load_settings(embeddings=args.provider))
    report = Report()
    try:
        info = embedder.info()  # Ollama is probed here: fail before loading anything
        print_header(
            f"recall quality: {len(labelled.queries)} labelled queries over {args.size} memories"
            f" ({len(labelled.memories)} labelled), {info.provider} {info.model}"
        )
        rankings = measure(report, embedder, labelled, args.size, args.seed)
    except MemvaultError as exc:
        sys.exit(f"recall quality: the {args.provider} embedding provider failed: {exc}")
    finally:
        embedder.close()
    scores = {mode: score_mode(report, labelled.queries, mode, rankings[mode]) for mode in MODES}
    for mode in (SearchMode.HYBRID, SearchMode.SEMANTIC):
        compare(report, mode, scores[mode], scores[SearchMode.KEYWORD])
    if args.show_queries:
        show_queries(labelled.queries, rankings)
    if args.json:
        params = {
            "provider": info.provider,
            "model": info.model,
            "size": args.size,
            "labelled_memories": len(labelled.memories),
            "queries": len(labelled.queries),
        }
        report.write_json(args.json, "recall_quality", params)
    return report


if __name__ == "__main__":
    main()
