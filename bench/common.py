"""Shared helpers for memvault's benchmarks: timing summaries, a corpus, the machine, output.

Benchmarks print figures; they assert nothing about speed. Every figure is one line of the form

    <name>  n=<count>  p50=… p90=… p99=… max=… mean=…  [target …]

and `--json PATH` writes the same figures (plus the machine description) as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import socket
import sqlite3
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from memvault import __version__
from memvault.models import MemoryType

SEED = 20260131  # a fixed seed: every run builds the same corpus and the same queries


# -- timing -------------------------------------------------------------------------------------


@dataclass
class Latency:
    """Percentiles of a list of durations, in milliseconds."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float
    mean: float


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty list."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize(seconds: list[float]) -> Latency:
    """p50/p90/p99/max/mean of durations given in seconds, reported in milliseconds."""
    if not seconds:
        raise ValueError("no samples to summarize")
    ms = sorted(value * 1000.0 for value in seconds)
    return Latency(
        count=len(ms),
        p50=percentile(ms, 0.50),
        p90=percentile(ms, 0.90),
        p99=percentile(ms, 0.99),
        max=ms[-1],
        mean=statistics.fmean(ms),
    )


def throughput(count: int, elapsed_seconds: float) -> float:
    """Operations per second over a wall-clock span."""
    return count / elapsed_seconds if elapsed_seconds > 0 else float("inf")


# -- output -------------------------------------------------------------------------------------


@dataclass
class Report:
    """The figures of one benchmark run, printed as they come and kept for --json."""

    figures: list[dict[str, Any]] = field(default_factory=list)

    def latency(self, name: str, seconds: list[float], target_p50_ms: float | None = None) -> None:
        """Record and print a latency distribution, with its p50 target when there is one."""
        lat = summarize(seconds)
        target = ""
        if target_p50_ms is not None:
            verdict = "met" if lat.p50 <= target_p50_ms else "MISSED"
            target = f"  [target p50 <= {target_p50_ms:g} ms: {verdict}]"
        print(
            f"{name:<42} n={lat.count:<6} p50={lat.p50:8.3f} ms  p90={lat.p90:8.3f} ms  "
            f"p99={lat.p99:8.3f} ms  max={lat.max:8.3f} ms  mean={lat.mean:8.3f} ms{target}",
            flush=True,
        )
        self.figures.append(
            {"name": name, "unit": "ms", **asdict(lat), "target_p50_ms": target_p50_ms}
        )

    def value(self, name: str, value: float, unit: str) -> None:
        """Record and print a single number (throughput, a load time, a file size)."""
        print(f"{name:<42} {value:,.2f} {unit}", flush=True)
        self.figures.append({"name": name, "value": value, "unit": unit})

    def write_json(self, path: Path, benchmark: str, params: dict[str, Any]) -> None:
        """Write the figures, the parameters and the machine to `path`."""
        document = {
            "benchmark": benchmark,
            "params": params,
            "machine": machine(),
            "figures": self.figures,
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}", flush=True)


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures as JSON")
    parser.add_argument("--seed", type=int, default=SEED, help="corpus seed (default: %(default)s)")
    return parser


def print_header(title: str) -> None:
    """A title line, then the machine on one line."""
    info = machine()
    print(f"== {title}", flush=True)
    print(
        f"   {info['cpu']} x{info['cores']}, {info['ram_gib']} GiB, {info['os']}, "
        f"Python {info['python']}, SQLite {info['sqlite']}, memvault {info['memvault']}",
        flush=True,
    )


# -- machine ------------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": _ram_gib(),
        "os": _os_name(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "memvault": __version__,
    }


# -- environment --------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def store_bytes(db_path: Path) -> int:
    """Size on disk of the store file with its WAL and shared-memory files."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        candidate = db_path.with_name(db_path.name + suffix)
        if candidate.exists():
            total += candidate.stat().st_size
    return total


# -- corpus -------------------------------------------------------------------------------------

PROJECTS = (
    "memvault", "billing-api", "infra", "web-app", "ml-pipeline", "docs-site", "mobile", "data-etl",
)  # fmt: skip
AGENTS = ("claude-code", "codex-cli", "gemini-cli", "cursor", "human")
TAGS = (
    "decision", "bug", "fix", "perf", "security", "testing", "ci", "deploy", "database", "api",
    "frontend", "auth", "config", "refactor", "docs", "migration", "flaky", "oncall", "style",
    "dependency",
)  # fmt: skip
COMPONENTS = (
    "sqlite store", "outbox drain", "replicator", "http api", "cli", "mcp server", "agent hooks",
    "neo4j schema", "session tracker", "embedding provider", "ollama client", "n8n workflow",
    "rate limiter", "auth middleware", "billing worker", "invoice exporter", "payment webhook",
    "search index", "cache layer", "job scheduler", "feature flags", "docker image",
    "terraform module", "kubernetes deployment", "grafana dashboard", "login form",
    "react router", "graphql gateway", "postgres pool", "redis queue", "s3 uploader",
    "kafka consumer", "etl loader", "parquet writer", "model trainer", "tokenizer",
    "push notifications", "ios build", "android gradle config", "docs generator",
)  # fmt: skip
PROBLEMS = (
    "timed out", "deadlocked", "leaked file descriptors", "returned stale data",
    "crashed on startup", "dropped events", "double counted retries", "ran out of memory",
    "blocked the event loop", "logged secrets", "failed the flaky test", "spiked latency",
    "lost writes", "rejected valid tokens", "corrupted the index", "ignored the timezone",
    "overflowed the batch size", "hung during shutdown", "retried forever", "duplicated rows",
)  # fmt: skip
CONDITIONS = (
    "two processes opened the file at once", "the network dropped", "the disk was full",
    "the clock jumped backwards", "the payload was over one megabyte", "unicode filenames appeared",
    "the replica was down", "a migration ran twice", "the container restarted",
    "the token expired", "load exceeded two hundred requests per second",
    "the queue held ten thousand entries", "ci ran on a cold cache", "daylight saving changed",
    "the user pasted a huge log", "the vpn reconnected", "a deploy overlapped a backup",
)  # fmt: skip
FIXES = (
    "adding a busy timeout", "wrapping both writes in one transaction", "switching to WAL mode",
    "pinning the dependency", "moving the work to a background thread",
    "batching inserts by five hundred", "adding an idempotency key", "normalising to utc",
    "streaming the body instead of buffering it", "bumping the pool size",
    "closing the cursor in a finally block", "adding jitter to the backoff",
    "validating input at the boundary", "caching the compiled regex", "using a partial index",
    "dropping the n plus one query", "raising the ulimit", "setting an explicit deadline",
)  # fmt: skip
TOOLS = (
    "pytest", "ruff", "mypy", "uvicorn", "fastapi", "pydantic", "sqlite", "neo4j", "docker",
    "terraform", "kubectl", "poetry", "npm", "vite", "webpack", "gradle", "xcode", "airflow",
    "dbt", "spark", "pandas", "numpy", "celery", "nginx", "prometheus",
)  # fmt: skip
RULES = (
    "never commit generated files", "keep handlers thin and put logic in the service",
    "every migration must be reversible", "prefer composition over inheritance",
    "log one structured line per request", "tests must use real databases",
    "no sleeps in tests, poll with a timeout", "version every public api",
    "review every dependency upgrade", "document each environment variable",
)  # fmt: skip

_TEMPLATES: tuple[tuple[MemoryType, str], ...] = (
    (
        MemoryType.EPISODIC,
        "The {component} {problem} when {condition}; fixed it by {fix}.",
    ),
    (
        MemoryType.EPISODIC,
        "Debugged {ticket}: {component} {problem} after {tool} was upgraded. Root cause was "
        "{component2}; {fix} resolved it.",
    ),
    (
        MemoryType.SEMANTIC,
        "The {component} depends on {tool} and talks to the {component2}; it {problem} before "
        "when {condition}.",
    ),
    (
        MemoryType.SEMANTIC,
        "{path} holds the {component} entry point; configuration comes from {env}.",
    ),
    (
        MemoryType.PROCEDURAL,
        "To release the {component}, run `{tool} {verb}` then check the {component2}. If it "
        "{problem}, try {fix}.",
    ),
    (
        MemoryType.PROCEDURAL,
        "Reproduce {ticket} locally: set {env}, start {tool}, and wait until {condition}.",
    ),
    (
        MemoryType.STRATEGIC,
        "Decided to rewrite the {component} with {tool} because it {problem} whenever "
        "{condition}. Team rule: {rule}.",
    ),
    (
        MemoryType.STRATEGIC,
        "We {verb} the {component} behind a flag first; {rule}.",
    ),
)
_VERBS = ("build", "deploy", "migrate", "test", "lint", "rollback", "profile", "benchmark")
_ENV_NAMES = ("DATABASE_URL", "REDIS_URL", "API_TOKEN", "LOG_LEVEL", "S3_BUCKET", "WORKERS")
_DIRS = ("src", "lib", "app", "services", "internal", "pkg")
_FILES = ("server", "routes", "models", "worker", "config", "schema", "client", "handlers")


class Corpus:
    """A deterministic stream of realistic developer memories and of queries over them."""

    def __init__(self, seed: int = SEED) -> None:
        self._rng = random.Random(seed)
        self._session_counter = dict.fromkeys(PROJECTS, 0)
        self._session_left = dict.fromkeys(PROJECTS, 0)
        self.vocabulary = self._build_vocabulary()

    @staticmethod
    def _build_vocabulary() -> list[str]:
        words: set[str] = set()
        for group in (COMPONENTS, PROBLEMS, CONDITIONS, FIXES, TOOLS, RULES, TAGS, _VERBS):
            for phrase in group:
                words.update(w for w in phrase.replace("-", " ").split() if len(w) > 3)
        return sorted(words)

    def _session(self, project: str) -> str:
        # Sessions hold a few dozen memories each, as a working day of one agent would.
        if self._session_left[project] == 0:
            self._session_counter[project] += 1
            self._session_left[project] = self._rng.randint(10, 60)
        self._session_left[project] -= 1
        return f"{project}-s{self._session_counter[project]:05d}"

    def _sentence(self) -> tuple[MemoryType, str]:
        rng = self._rng
        memory_type, template = rng.choice(_TEMPLATES)
        text = template.format(
            component=rng.choice(COMPONENTS),
            component2=rng.choice(COMPONENTS),
            problem=rng.choice(PROBLEMS),
            condition=rng.choice(CONDITIONS),
            fix=rng.choice(FIXES),
            tool=rng.choice(TOOLS),
            rule=rng.choice(RULES),
            verb=rng.choice(_VERBS),
            env=rng.choice(_ENV_NAMES),
            ticket=f"MV-{rng.randint(100, 9999)}",
            path=f"{rng.choice(_DIRS)}/{rng.choice(_FILES)}_{rng.randint(1, 99)}.py",
        )
        return memory_type, text[0].upper() + text[1:]

    def memory(self) -> dict[str, Any]:
        """The next memory, as the JSON body of POST /api/memories (or remember()'s input)."""
        rng = self._rng
        memory_type, content = self._sentence()
        for _ in range(rng.choice((0, 0, 1, 1, 2))):  # most memories are one to three sentences
            content += " " + self._sentence()[1]
        project = rng.choice(PROJECTS)
        return {
            "content": content,
            "memory_type": memory_type.value,
            "importance": round(rng.uniform(0.1, 1.0), 2),
            "tags": rng.sample(TAGS, rng.randint(0, 4)),
            "project_id": project,
            "session_id": self._session(project),
            "scope": "global" if rng.random() < 0.05 else "project",
            "source": rng.choice(AGENTS),
        }

    def query(self) -> tuple[str, str, dict[str, Any]]:
        """A keyword query: (kind, text of 1-3 corpus words, filters for search())."""
        rng = self._rng
        text = " ".join(rng.sample(self.vocabulary, rng.randint(1, 3)))
        roll = rng.random()
        if roll < 0.5:
            return "plain", text, {}
        if roll < 0.75:
            return "project", text, {"project_id": rng.choice(PROJECTS)}
        if roll < 0.9:
            return "type", text, {"memory_type": rng.choice(list(MemoryType)).value}
        return (
            "project+type",
            text,
            {
                "project_id": rng.choice(PROJECTS),
                "memory_type": rng.choice(list(MemoryType)).value,
            },
        )
