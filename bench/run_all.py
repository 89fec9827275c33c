"""Run every benchmark at its default size; this is what `make bench` calls.

    .venv/bin/python bench/run_all.py [--large] [--json PATH]

`--large` adds the recall benchmark over 100,000 memories (about a minute more here) and the
recovery of 100,000 memories with 384-dim embeddings (about ten minutes more: most of it is loading
them into Neo4j). The replication and recovery benchmarks start their own Neo4j with the
project's launcher (tools/neo4j-server), so Java and the launcher's build must be available.
"""

from __future__ import annotations

import json
import time

import bench_agents
import bench_detection
import bench_embeddings
import bench_guard
import bench_recall
import bench_recall_quality
import bench_recovery
import bench_remember
import bench_replication
from common import base_parser, machine


def main() -> None:
    """Run the benchmarks one after another, then print the total time."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--large", action="store_true", help="also recall over, and recover, 100,000 memories"
    )
    args = parser.parse_args()
    seed = ["--seed", str(args.seed)]
    started = time.perf_counter()
    reports = {"remember": bench_remember.main(seed)}
    print()
    sizes = ["10000", "100000"] if args.large else ["10000"]
    reports["recall"] = bench_recall.main([*seed, "--size", *sizes])
    print()
    reports["embeddings"] = bench_embeddings.main(seed)
    print()
    reports["recall_quality"] = bench_recall_quality.main(seed)
    print()
    reports["detection"] = bench_detection.main(seed)
    print()
    reports["guard"] = bench_guard.main(seed)
    print()
    reports["agents"] = bench_agents.main(seed)
    print()
    reports["replication"] = bench_replication.main(seed)
    print()
    recoveries = ["1000", "100000"] if args.large else ["1000"]
    reports["recovery"] = bench_recovery.main([*seed, "--size", *recoveries])
    print(f"\nall benchmarks finished in {time.perf_counter() - started:.1f} s")
    if args.json:
        document = {
            "machine": machine(),
            "seed": args.seed,
            "figures": {name: report.figures for name, report in reports.items()},
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
