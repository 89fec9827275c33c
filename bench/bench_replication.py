"""Replication: lag under a steady stream of writes, and backlog drain throughput, on real Neo4j.

    .venv/bin/python bench/bench_replication.py [--rates 20 100] [--duration 20] [-n 20000]
                                                [--only lag|drain] [--json PATH]

Lag: a real `memvault serve` process (its own home, replicating to a launcher-run Neo4j on free
ports, Ollama pointed at a closed port) receives POST /api/memories at a steady rate. Each
memory's lag is `replicated_at` on its Neo4j node minus its `created_at`, both stamped by the
server. As a cross-check from outside, a second thread polls Neo4j every 20 ms for a sample of
the ids and times each from just before its POST to the poll that first saw it.

Drain: N memories written to a fresh local store, then one Replicator.run_once() into an empty
Neo4j, without and with 384-dim embeddings; then replica.apply alone on prebuilt batches.
The graph is wiped (schema kept) before every scenario.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast
from uuid import uuid4

import httpx
from neo4j import Driver, GraphDatabase

from common import Corpus, Report, base_parser, free_port, print_header, throughput
from memvault.models import Memory, Operation, SyncStatus, content_hash, utc_now
from memvault.remote.neo4j import Neo4jReplica, memory_props
from memvault.remote.protocol import ApplyOutcome, Change
from memvault.service import MemoryService
from memvault.store import LocalStore
from memvault.sync.audit import configure_logging
from memvault.sync.replicator import DEFAULT_BATCH_SIZE, Replicator
from neo4j_launcher import PASSWORD, USER, Neo4jServer, running_neo4j

TARGET_LAG_P50_MS = 250.0
TARGET_LAG_P99_MS = 1000.0
TARGET_DRAIN_PER_S = 5000.0
DIM = 384
PROBE_INTERVAL_S = 0.020
CATCH_UP_TIMEOUT_S = 120.0  # after the stream: how long replication may take to catch up
START_TIMEOUT_S = 60.0
APPLY_ROUNDS = 5
WARM_UP_BATCHES = 6
_SCRUBBED = ("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_")


def print_load() -> None:
    """The load average before the run: these figures are sensitive to other work."""
    one, five, fifteen = os.getloadavg()
    print(
        f"   load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores", flush=True
    )


def add_target(report: Report, key: str, target: float, actual: float, smaller: bool) -> None:
    """Print a verdict for the last figure and keep the target with it."""
    met = actual <= target if smaller else actual >= target
    sign = "<=" if smaller else ">="
    print(f"{'':<42} [target {key} {sign} {target:,g}: {'met' if met else 'MISSED'}]", flush=True)
    report.figures[-1][f"target_{key}"] = target


# -- lag --------------------------------------------------------------------------------------


@contextmanager
def memvault_serve(home: Path, neo4j: Neo4jServer) -> Iterator[tuple[str, Path]]:
    """`python -m memvault serve` over `home`; yields its base URL and its log file."""
    port = free_port()
    closed = free_port()  # nothing listens here: Ollama is "down", as the brief asks
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env.update(neo4j.client_env(), MEMVAULT_HOME=str(home), OLLAMA_URL=f"http://127.0.0.1:{closed}")
    log_path = home.parent / "serve.log"
    with log_path.open("w") as log:
        # cwd is the empty home's parent, so no developer .env is read into the server.
        process = subprocess.Popen(
            [sys.executable, "-m", "memvault", "serve", "--port", str(port)],
            cwd=home.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{url}/api/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"memvault serve did not come up:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield url, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Probe(threading.Thread):
    """Polls Neo4j every 20 ms for the ids it watches; records when each first became visible."""

    def __init__(self, driver: Driver) -> None:
        super().__init__(name="lag-probe", daemon=True)
        self._driver = driver
        self._lock = threading.Lock()
        self._watched: dict[str, float] = {}  # id -> wall time just before its POST
        self._done = threading.Event()
        self.lags: list[float] = []
        self.polls = 0

    def watch(self, memory_id: str, sent_at: float) -> None:
        with self._lock:
            self._watched[memory_id] = sent_at

    def finish(self, timeout: float) -> None:
        """Stop once every watched id was seen (or `timeout` passed)."""
        deadline = time.monotonic() + timeout
        while self._watched and time.monotonic() < deadline:
            time.sleep(PROBE_INTERVAL_S)
        self._done.set()
        self.join()

    def run(self) -> None:
        while not self._done.is_set():
            issued = time.monotonic()
            with self._lock:
                ids = list(self._watched)
            if ids:
                records, _, _ = self._driver.execute_query(
                    "UNWIND $ids AS id MATCH (m:Memory {id: id}) RETURN m.id AS id", ids=ids
                )
                seen_at = time.time()
                self.polls += 1
                with self._lock:
                    for record in records:
                        self.lags.append(seen_at - self._watched.pop(record["id"]))
            time.sleep(max(0.0, issued + PROBE_INTERVAL_S - time.monotonic()))


def count_present(driver: Driver, ids: Sequence[str]) -> int:
    records, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (m:Memory {id: id}) RETURN count(m) AS n", ids=list(ids)
    )
    return int(records[0]["n"])


def server_lags(driver: Driver, ids: Sequence[str]) -> list[float]:
    """replicated_at - created_at of each memory, in seconds, from the Neo4j nodes."""
    records, _, _ = driver.execute_query(
        "UNWIND $ids AS id MATCH (m:Memory {id: id}) "
        "RETURN m.created_at AS created, m.replicated_at AS replicated",
        ids=list(ids),
    )
    return [
        (
            datetime.fromisoformat(r["replicated"]) - datetime.fromisoformat(r["created"])
        ).total_seconds()
        for r in records
    ]


def push_lines(log_path: Path) -> list[dict[str, Any]]:
    """The server's structured `push` log lines (one per drained batch)."""
    found = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and '"operation": "push"' in line:
            found.append(json.loads(line))
    return found


def bench_lag(
    report: Report, neo4j: Neo4jServer, tmp: Path, corpus: Corpus, rate: float, duration: float
) -> None:
    """One steady stream of writes at `rate` per second for `duration` seconds."""
    asyncio.run(neo4j.reset())
    home = tmp / f"lag-{rate:g}" / "home"
    home.mkdir(parents=True)
    total = max(1, round(rate * duration))
    probe_every = max(1, round(rate / 20))  # ~20 probed ids a second, whatever the rate
    bodies = [corpus.memory() for _ in range(total + 20)]
    with (
        memvault_serve(home, neo4j) as (url, log_path),
        httpx.Client(base_url=url, timeout=30.0) as client,
        GraphDatabase.driver(neo4j.uri, auth=(USER, PASSWORD)) as driver,
    ):
        warm = [client.post("/api/memories", json=body).json()["id"] for body in bodies[:20]]
        wait_until(lambda: count_present(driver, warm) == len(warm), "the warm-up writes")
        warm_pushes = len(push_lines(log_path))
        probe = Probe(driver)
        probe.start()
        ids: list[str] = []
        posts: list[float] = []
        started = time.monotonic()
        for i, body in enumerate(bodies[20:]):
            # Open loop: each write has its slot; a late one is sent at once, never skipped.
            time.sleep(max(0.0, started + i / rate - time.monotonic()))
            sent_at, t0 = time.time(), time.perf_counter()
            response = client.post("/api/memories", json=body)
            posts.append(time.perf_counter() - t0)
            if response.status_code != 201:
                raise RuntimeError(f"POST /api/memories answered {response.status_code}")
            ids.append(response.json()["id"])
            if i % probe_every == 0:
                probe.watch(ids[-1], sent_at)
        elapsed = time.monotonic() - started
        wait_until(lambda: count_present(driver, ids) == len(ids), "replication to catch up")
        probe.finish(timeout=5.0)
        lags = server_lags(driver, ids)
    pushes = push_lines(log_path)[warm_pushes:]
    name = f"lag @{rate:g}/s"
    report.value(f"{name}: writes sent", len(ids), "memories")
    report.value(f"{name}: achieved rate", throughput(len(ids), elapsed), "writes/s")
    report.latency(f"{name}: replicated_at - created_at", lags, TARGET_LAG_P50_MS)
    add_target(report, "p99_ms", TARGET_LAG_P99_MS, report.figures[-1]["p99"], smaller=True)
    report.latency(f"{name}: client probe (seen - sent)", probe.lags)
    report.latency(f"{name}: POST /api/memories", posts)
    if pushes:
        sizes = [float(p.get("batch", p["count"])) for p in pushes]
        report.value(f"{name}: drains (push batches)", len(pushes), "batches")
        report.value(f"{name}: mean batch", sum(sizes) / len(sizes), "changes")
        report.latency(f"{name}: drain duration", [p["duration_ms"] / 1000 for p in pushes])


def wait_until(condition: Any, what: str, timeout: float = CATCH_UP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)


# -- drain ------------------------------------------------------------------------------------


class TimedReplica(Neo4jReplica):
    """The real Neo4j replica, adding up the wall time spent inside apply()."""

    apply_seconds = 0.0

    async def apply(self, changes: Sequence[Change]) -> list[ApplyOutcome]:
        t0 = time.perf_counter()
        try:
            return await super().apply(changes)
        finally:
            self.apply_seconds += time.perf_counter() - t0


def memory_with_vector(body: dict[str, Any], rng: random.Random, vector: bool = True) -> Memory:
    """A memory as remember() builds it from `body`, with a 384-dim embedding if `vector`."""
    now = utc_now()
    return Memory(
        id=uuid4(),
        **body,
        created_at=now,
        updated_at=now,
        sync_version=1,
        event_id=uuid4(),
        sync_status=SyncStatus.PENDING,
        content_hash=content_hash(body["content"]),
        embedding=[rng.uniform(-1.0, 1.0) for _ in range(DIM)] if vector else None,
        embedding_model="all-MiniLM-L6-v2" if vector else None,
        embedding_dim=DIM if vector else None,
    )


async def bench_drain(
    report: Report, neo4j: Neo4jServer, tmp: Path, bodies: list[dict[str, Any]], vectors: bool
) -> None:
    """Fill a fresh store's outbox with len(bodies) creates, then drain it in one run_once()."""
    await neo4j.reset()
    label = "drain (384-dim)" if vectors else "drain (no vectors)"
    settings = neo4j.settings(tmp / f"drain-{int(vectors)}-{time.monotonic_ns()}")
    store = LocalStore.open(settings.store_path)
    replica = cast(TimedReplica, TimedReplica.from_settings(settings))
    try:
        t0 = time.perf_counter()
        if vectors:
            # MemoryService.remember takes no vector, so the memory is built as remember()
            # builds it and stored with the same LocalStore.create call.
            rng = random.Random(len(bodies))
            for body in bodies:
                store.create(memory_with_vector(body, rng))
        else:
            service = MemoryService(store)
            for body in bodies:
                service.remember(body)
        report.value(f"{label}: local writes", time.perf_counter() - t0, "s")
        replicator = Replicator(store, replica, origin="bench")
        t0 = time.perf_counter()
        drained = await replicator.run_once()
        elapsed = time.perf_counter() - t0
        remote = await replica.memory_count()
        if drained.sent != len(bodies) or store.outbox_size() or remote != len(bodies):
            raise RuntimeError(
                f"drain incomplete: sent {drained.sent}, outbox {store.outbox_size()}, "
                f"remote {remote}, expected {len(bodies)} ({drained.error})"
            )
        report.value(f"{label}: run_once", elapsed, "s")
        report.value(f"{label}: throughput", throughput(len(bodies), elapsed), "memories/s")
        add_target(report, "per_s", TARGET_DRAIN_PER_S, len(bodies) / elapsed, smaller=False)
        share = 100 * replica.apply_seconds / elapsed
        report.value(f"{label}: inside replica.apply", replica.apply_seconds, f"s ({share:.0f}%)")
    finally:
        await replica.close()
        store.close()


def prebuilt_changes(corpus: Corpus, count: int, vectors: bool, rng: random.Random) -> list[Change]:
    """`count` creates of new memories, ready for replica.apply."""
    return [
        Change(Operation.CREATE, memory_with_vector(corpus.memory(), rng, vectors), "bench")
        for _ in range(count)
    ]


async def bench_apply(report: Report, neo4j: Neo4jServer, tmp: Path, corpus: Corpus) -> None:
    """replica.apply alone on batches of 1,000 prebuilt changes: new, with vectors, replayed."""
    settings = neo4j.settings(tmp / "apply")
    replica = Neo4jReplica.from_settings(settings)
    rng = random.Random(7)
    size = DEFAULT_BATCH_SIZE
    try:
        for vectors in (False, True):
            batches = [prebuilt_changes(corpus, size, vectors, rng) for _ in range(APPLY_ROUNDS)]
            kind = "384-dim" if vectors else "no vectors"
            label = f"apply {size} new ({kind})"
            t0 = time.perf_counter()
            for change in batches[0]:
                memory_props(change.memory)
            props = time.perf_counter() - t0
            times = []
            for batch in batches:
                t0 = time.perf_counter()
                outcomes = await replica.apply(batch)
                times.append(time.perf_counter() - t0)
                if sum(o.applied for o in outcomes) != size:
                    raise RuntimeError(f"{label}: not every change was applied")
            report.latency(label, times)
            report.value(f"{label}: rate at p50", size / report.figures[-1]["p50"] * 1000, "/s")
            report.value(f"{label}: memory_props alone", props * 1000, "ms")
            replays = []
            for _ in range(APPLY_ROUNDS):
                t0 = time.perf_counter()
                await replica.apply(batches[0])
                replays.append(time.perf_counter() - t0)
            report.latency(f"apply {size} replayed ({kind})", replays)
    finally:
        await replica.close()


async def warm_up(neo4j: Neo4jServer, tmp: Path, corpus: Corpus) -> None:
    """Apply a few untimed batches, then wipe: a fresh JVM runs its first batches 2-5x slower
    (JIT compilation, query planning), which a long-running server has long paid for."""
    replica = Neo4jReplica.from_settings(neo4j.settings(tmp / "warm-up"))
    rng = random.Random(1)
    t0 = time.perf_counter()
    try:
        await neo4j.reset()
        for number in range(WARM_UP_BATCHES):
            await replica.apply(prebuilt_changes(corpus, DEFAULT_BATCH_SIZE, number % 2 == 1, rng))
        await neo4j.reset()
    finally:
        await replica.close()
    print(f"   warm-up: {WARM_UP_BATCHES} untimed batches in {time.perf_counter() - t0:.1f} s")


def main(argv: list[str] | None = None) -> Report:
    """Run the lag and drain scenarios against one launcher-run Neo4j."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[20.0, 100.0], metavar="R")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per rate (20)")
    parser.add_argument("-n", type=int, default=20_000, help="memories in the backlog (20000)")
    parser.add_argument("--only", choices=("lag", "drain"), help="run one part only")
    args = parser.parse_args(argv)
    if args.n < 1 or args.duration <= 0 or min(args.rates) <= 0:
        parser.error("-n, --duration and --rates must be positive")

    print_header(
        f"replication: lag at {', '.join(f'{r:g}/s' for r in args.rates)} for "
        f"{args.duration:g} s; drain of {args.n:,} memories"
    )
    print_load()
    configure_logging("WARNING")  # the in-process replicator's JSON lines are not figures
    corpus = Corpus(args.seed)
    report = Report()
    with (
        tempfile.TemporaryDirectory(prefix="memvault-bench-repl-") as name,
        running_neo4j(Path(name, "neo4j", "data")) as neo4j,
    ):
        tmp = Path(name)
        asyncio.run(warm_up(neo4j, tmp, Corpus(args.seed + 1)))
        if args.only in (None, "lag"):
            for rate in args.rates:
                bench_lag(report, neo4j, tmp, corpus, rate, args.duration)
        if args.only in (None, "drain"):
            bodies = [corpus.memory() for _ in range(args.n)]

            async def drains() -> None:
                for vectors in (False, True):
                    await bench_drain(report, neo4j, tmp, bodies, vectors)
                await bench_apply(report, neo4j, tmp, corpus)

            asyncio.run(drains())
    if args.json:
        params = {"rates": args.rates, "duration": args.duration, "n": args.n, "only": args.only}
        report.write_json(args.json, "replication", params)
    return report


if __name__ == "__main__":
    main()
