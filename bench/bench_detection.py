"""Destruction detection: time from the threshold-crossing delete to the alert.

    .venv/bin/python bench/bench_detection.py [--bursts 30] [--size 1000] [--json PATH]

Each burst runs on a fresh store of `--size` memories: 10 deletes (the threshold, no alert),
then the 11th. The detector runs inside `forget()`, so the alert exists when the 11th returns;
the figure is that call's duration, the alert included (plus, for comparison, an ordinary
delete's). Over HTTP the same path adds one request's round trip (see bench_remember).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import Corpus, Report, base_parser, print_header
from memvault.safety.detector import DetectionPolicy
from memvault.service import MemoryService
from memvault.store import LocalStore


def one_burst(root: Path, size: int, corpus: Corpus) -> tuple[float, list[float]]:
    """(the 11th delete's seconds, the 10 ordinary deletes' seconds) on a fresh store."""
    store = LocalStore.open(root / "memvault.db")
    policy = DetectionPolicy()
    store.delete_delay = policy.window
    service = MemoryService(store, detection=policy)
    try:
        ids = [service.remember(corpus.memory()).id for _ in range(size)]
        clock = time.perf_counter
        ordinary = []
        for memory_id in ids[: policy.delete_burst_count]:
            started = clock()
            service.forget(memory_id)
            ordinary.append(clock() - started)
        assert not store.alerts.all(), "no alert at the threshold itself"
        started = clock()
        service.forget(ids[policy.delete_burst_count])
        crossing = clock() - started
        assert len(store.alerts.all()) == 1, "the 11th delete raises the alert"
        return crossing, ordinary
    finally:
        store.close()


def main(argv: list[str] | None = None) -> Report:
    """Run `--bursts` bursts and report the alert latency."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=30, help="bursts to time (30)")
    parser.add_argument("--size", type=int, default=1000, help="memories per store (1000)")
    args = parser.parse_args(argv)
    print_header(f"detection: {args.bursts} delete bursts on stores of {args.size:,} memories")
    report = Report()
    corpus = Corpus(args.seed)
    crossings: list[float] = []
    ordinary: list[float] = []
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        for number in range(args.bursts):
            crossing, plain = one_burst(Path(tmp) / str(number), args.size, corpus)
            crossings.append(crossing)
            ordinary.extend(plain)
    report.latency("detection delete -> alert (11th delete)", crossings)
    report.latency("detection ordinary delete", ordinary)
    report.value(
        "detection burst window (deletes wait it)", DetectionPolicy().window.total_seconds(), "s"
    )
    if args.json:
        report.write_json(args.json, "detection", {"bursts": args.bursts, "size": args.size})
    return report


if __name__ == "__main__":
    main()
