"""Recovery: replicate N memories, delete the local data folder, recover, verify; timed.

    .venv/bin/python bench/bench_recovery.py [--size 1000 [100000 ...]] [--rounds 2] [--json PATH]

For each size the graph is wiped (schema kept), then a fresh store gets N memories with 384-dim
embeddings (every tenth also updated, so it has two versions; every fiftieth forgotten, a
tombstone), and one Replicator.run_once() loads them into Neo4j: that is the load time, reported
apart. Each round then deletes the whole data folder, opens a fresh store and runs
`recover(store, replica, RecoveryOptions(include_deleted=True))`, the call memvault's start-up
recovery makes, and reports its duration and RecoveryReport.verified. A second recover over the
rebuilt store (nothing left to do) is timed too.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import time
from pathlib import Path

from bench_replication import add_target, memory_with_vector, print_load
from common import Corpus, Report, base_parser, print_header, throughput
from memvault.models import utc_now
from memvault.remote.neo4j import Neo4jReplica
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.sync.audit import configure_logging
from memvault.sync.recovery import RecoveryOptions, recover
from memvault.sync.replicator import Replicator
from neo4j_launcher import Neo4jServer, running_neo4j

TARGETS_S = {1_000: 2.0, 100_000: 60.0}  # from the issue; other sizes have none
UPDATE_EVERY = 10
FORGET_EVERY = 50


async def load(
    report: Report, neo4j: Neo4jServer, home: Path, corpus: Corpus, size: int
) -> Neo4jReplica:
    """Write `size` memories locally and replicate them; returns the open replica."""
    await neo4j.reset()
    settings = neo4j.settings(home)
    store = LocalStore.open(settings.store_path)
    replica = Neo4jReplica.from_settings(settings)
    try:
        t0 = time.perf_counter()
        rng = random.Random(size)
        ids = []
        for _ in range(size):
            memory = memory_with_vector(corpus.memory(), rng)
            store.create(memory)
            ids.append(memory.id)
        service = MemoryService(store)
        for i, memory_id in enumerate(ids):
            if i % UPDATE_EVERY == 0:  # keeps the text, so the vector stays
                service.update(memory_id, {"importance": 0.9, "tags": ["revisited"]})
            if i % FORGET_EVERY == 0:
                service.forget(memory_id)
        report.value(f"recover {size:,}: local writes", time.perf_counter() - t0, "s")
        t0 = time.perf_counter()
        drained = await Replicator(store, replica, origin="bench").run_once()
        elapsed = time.perf_counter() - t0
        if store.outbox_size():
            raise RuntimeError(f"load incomplete: {store.outbox_size()} left ({drained.error})")
        report.value(f"recover {size:,}: load into Neo4j (run_once)", elapsed, "s")
        report.value(f"recover {size:,}: load rate", throughput(drained.sent, elapsed), "changes/s")
    except BaseException:
        await replica.close()
        raise
    finally:
        store.close()
    return replica


async def rounds(
    report: Report, neo4j: Neo4jServer, tmp: Path, corpus: Corpus, size: int, count: int
) -> None:
    """Load once, then `count` times: wipe the data folder, recover, verify."""
    home = tmp / f"home-{size}"
    replica = await load(report, neo4j, home, corpus, size)
    try:
        for number in range(1, count + 1):
            shutil.rmtree(home)
            store = LocalStore.open(neo4j.settings(home).store_path)
            try:
                options = RecoveryOptions(include_deleted=True)
                t0 = time.perf_counter()
                done = await recover(store, replica, options, clock=utc_now)
                wall = time.perf_counter() - t0
                again = time.perf_counter()
                rerun = await recover(store, replica, options, clock=utc_now)
                again = time.perf_counter() - again
            finally:
                store.close()
            name = f"recover {size:,} (round {number})"
            report.value(f"{name}: duration", wall, "s")
            report.figures[-1].update(verified=done.verified, recovered=done.recovered)
            if size in TARGETS_S:
                add_target(report, "s", TARGETS_S[size], wall, smaller=True)
            print(
                f"{'':<42} recovered={done.recovered:,} skipped={done.skipped} "
                f"conflicts={done.conflicts} drift={done.drift} verified={done.verified} "
                f"(report.duration_s={done.duration_s})",
                flush=True,
            )
            report.value(f"{name}: rate", throughput(done.recovered, wall), "memories/s")
            report.value(f"{name}: again, nothing to do", again, "s")
            report.figures[-1].update(verified=rerun.verified, skipped=rerun.skipped)
            if not done.verified or done.recovered != size or not rerun.verified:
                raise RuntimeError(
                    f"recovery of {size} did not verify: recovered {done.recovered}, "
                    f"drift {done.drift}; rerun verified={rerun.verified}"
                )
    finally:
        await replica.close()


def main(argv: list[str] | None = None) -> Report:
    """Run the recovery scenario for each size against one launcher-run Neo4j."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, nargs="+", default=[1_000], help="memories (1000)")
    parser.add_argument("--rounds", type=int, default=2, help="recoveries per size (2)")
    args = parser.parse_args(argv)
    if min(args.size) < 1 or args.rounds < 1:
        parser.error("--size and --rounds must be at least 1")

    print_header(
        f"recovery: {', '.join(f'{s:,}' for s in args.size)} memories with 384-dim embeddings, "
        f"{args.rounds} round(s) each"
    )
    print_load()
    configure_logging("WARNING")  # recovery's JSON log line is not a figure
    corpus = Corpus(args.seed)
    report = Report()
    with (
        tempfile.TemporaryDirectory(prefix="memvault-bench-recovery-") as name,
        running_neo4j(Path(name, "neo4j", "data")) as neo4j,
    ):

        async def run() -> None:
            for size in args.size:
                await rounds(report, neo4j, Path(name), corpus, size, args.rounds)

        asyncio.run(run())
    if args.json:
        report.write_json(args.json, "recovery", {"size": args.size, "rounds": args.rounds})
    return report


if __name__ == "__main__":
    main()
