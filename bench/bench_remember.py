"""Write latency: MemoryService.remember() in-process, then POST /api/memories over real HTTP.

    .venv/bin/python bench/bench_remember.py [-n 2000] [--server subprocess|thread] [--json PATH]

The HTTP phase starts a real uvicorn server on 127.0.0.1 (by default as its own process,
`python -m memvault serve`, so client and server do not share a GIL) and sends every request
over one persistent keep-alive httpx.Client. Each phase starts from a fresh, empty store.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from common import Corpus, Report, base_parser, free_port, print_header, throughput
from memvault.api import build_server
from memvault.config import Settings
from memvault.service import MemoryService
from memvault.store import LocalStore

TARGET_SERVICE_P50_MS = 1.0
TARGET_HTTP_P50_MS = 10.0
WARMUP = 50  # untimed calls first: imports, statement cache, page cache, connection setup
START_TIMEOUT = 30.0


def bench_service(report: Report, bodies: list[dict[str, Any]], home: Path) -> None:
    """Time each remember() call on a fresh store."""
    store = LocalStore.open(home / "memvault.db")
    service = MemoryService(store)
    try:
        for body in bodies[:WARMUP]:
            service.remember(body)
        samples: list[float] = []
        timed = bodies[WARMUP:]
        clock = time.perf_counter
        started = clock()
        for body in timed:
            t0 = clock()
            service.remember(body)
            samples.append(clock() - t0)
        elapsed = clock() - started
    finally:
        store.close()
    report.latency("service.remember", samples, TARGET_SERVICE_P50_MS)
    report.value("service.remember throughput", throughput(len(timed), elapsed), "writes/s")


@contextmanager
def server_process(home: Path) -> Iterator[str]:
    """`python -m memvault serve` on a free loopback port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "MEMVAULT_HOME": str(home),
        "MEMVAULT_HOST": "127.0.0.1",
        "MEMVAULT_PORT": str(port),
        "MEMVAULT_LOG_LEVEL": "WARNING",
    }
    env.pop("MEMVAULT_API_TOKEN", None)
    # cwd is the empty home, so no developer .env is read into the server's settings.
    process = subprocess.Popen(
        [sys.executable, "-m", "memvault", "serve"], cwd=home, env=env, stdin=subprocess.DEVNULL
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base_url, lambda: process.poll() is None)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=START_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def server_thread(home: Path) -> Iterator[str]:
    """build_server(settings) run in a thread of this process; yields its base URL."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, home=home, host="127.0.0.1", port=free_port(), log_level="WARNING"
    )
    server = build_server(settings)
    thread = threading.Thread(target=server.run, name="memvault-api", daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{settings.port}"
    try:
        _wait_until_up(base_url, thread.is_alive)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)


def _wait_until_up(base_url: str, alive: Any) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            if httpx.get(f"{base_url}/api/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if not alive():
            raise RuntimeError(f"the server for {base_url} exited during startup")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{base_url}/api/health did not answer in {START_TIMEOUT:g} s")
        time.sleep(0.05)


def bench_http(report: Report, bodies: list[dict[str, Any]], home: Path, mode: str) -> None:
    """Time each POST /api/memories over one keep-alive connection."""
    start_server = server_process if mode == "subprocess" else server_thread
    with start_server(home) as base_url, httpx.Client(base_url=base_url, timeout=30.0) as client:
        for body in bodies[:WARMUP]:
            client.post("/api/memories", json=body).raise_for_status()
        # The floor of the HTTP stack: a round trip that touches neither pydantic input nor SQLite.
        floor: list[float] = []
        clock = time.perf_counter
        for _ in range(max(1, len(bodies) // 4)):
            t0 = clock()
            client.get("/api/health").raise_for_status()
            floor.append(clock() - t0)
        samples: list[float] = []
        timed = bodies[WARMUP:]
        started = clock()
        for body in timed:
            t0 = clock()
            response = client.post("/api/memories", json=body)
            samples.append(clock() - t0)
            if response.status_code != 201:
                raise RuntimeError(f"POST /api/memories answered {response.status_code}")
        elapsed = clock() - started
    report.latency(f"http.health ({mode}) floor", floor)
    report.latency(f"http.create ({mode})", samples, TARGET_HTTP_P50_MS)
    report.value(f"http.create ({mode}) throughput", throughput(len(timed), elapsed), "req/s")


def main(argv: list[str] | None = None) -> Report:
    """Run both phases and print their figures."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="timed calls per phase (%(default)s)")
    parser.add_argument(
        "--server",
        choices=("subprocess", "thread", "both"),
        default="subprocess",
        help="how the HTTP server runs (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("-n must be at least 1")

    print_header(f"remember: {args.n} writes per phase (+{WARMUP} warm-up)")
    corpus = Corpus(args.seed)
    bodies = [corpus.memory() for _ in range(args.n + WARMUP)]
    report = Report()
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        bench_service(report, bodies, Path(tmp, "service"))
        modes = ("subprocess", "thread") if args.server == "both" else (args.server,)
        for mode in modes:
            home = Path(tmp, f"http-{mode}")
            home.mkdir()
            bench_http(report, bodies, home, mode)
    if args.json:
        report.write_json(args.json, "remember", {"n": args.n, "server": args.server})
    return report


if __name__ == "__main__":
    main()
