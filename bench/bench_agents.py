"""What an agent waits for: the session hooks end to end, and MCP tool calls over stdio.

    .venv/bin/python bench/bench_agents.py [--runs 20] [--calls 200] [--memories 1000] [--json PATH]

A store of `--memories` memories in one project (no replica, embeddings off) under a temporary
home. The session-start and session-end hooks run as the installed console script, fed Claude
Code's JSON on stdin, `--runs` times each, one process at a time: interpreter start, imports, the
session write, the briefing, as an agent pays them. Claude Code gives a SessionEnd hook about
1.5 s and Codex 3 s: target p99 <= 1,000 ms for session end, and for session start (which an
agent waits for before its first turn). MCP: one `memvault mcp` process, the official client,
`--calls` calls each of `remember` and `recall` (keyword), p50/p99 per call.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from common import Corpus, Report, base_parser, print_header
from memvault.service import MemoryService
from memvault.store import LocalStore

MEMVAULT = Path(sys.executable).with_name("memvault")
TARGET_P99_MS = 1000.0
_SCRUBBED = ("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_")


def run_hook(name: str, payload: dict[str, str], env: dict[str, str], cwd: Path) -> float:
    """Seconds for one hook process; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(
        [str(MEMVAULT), "hooks", name, "--agent", "claude"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"hooks {name} failed: {done.stderr}")
    return elapsed


async def mcp_calls(env: dict[str, str], cwd: Path, calls: int) -> dict[str, list[float]]:
    """Seconds per `remember` and per `recall` call in one stdio session."""
    params = StdioServerParameters(command=str(MEMVAULT), args=["mcp"], env=env, cwd=cwd)
    timings: dict[str, list[float]] = {"remember": [], "recall": []}
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        for i in range(calls):
            started = time.perf_counter()
            await session.call_tool(
                "remember", {"content": f"benchmark decision {i}", "project_id": "shop"}
            )
            timings["remember"].append(time.perf_counter() - started)
        for i in range(calls):
            started = time.perf_counter()
            await session.call_tool(
                "recall", {"query": f"decision {i}", "project_id": "shop", "mode": "keyword"}
            )
            timings["recall"].append(time.perf_counter() - started)
    return timings


def main(argv: list[str] | None = None) -> Report:
    """Time the hooks and the MCP tools and print the figures."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="processes per hook")
    parser.add_argument("--calls", type=int, default=200, help="MCP calls per tool")
    parser.add_argument("--memories", type=int, default=1000, help="memories in the store")
    args = parser.parse_args(argv)
    print_header(f"agents: hooks and MCP over a store of {args.memories} memories")
    report = Report()
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        root = Path(tmp)
        home, project = root / "home", root / "shop"
        project.mkdir()
        store = LocalStore.open(home / "memvault.db")
        service = MemoryService(store, default_project="shop")
        corpus = Corpus(args.seed)
        for _ in range(args.memories):  # all in one project and one session, the briefed one
            memory = corpus.memory()
            service.remember(
                {**memory, "project_id": "shop", "session_id": None, "scope": "project"}
            )
        service.end_session(data={"summary": "filled the benchmark store"})
        store.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env.update(
            MEMVAULT_HOME=str(home),
            MEMVAULT_EMBEDDINGS="none",
            XDG_CONFIG_HOME=str(root / "config"),
            MEMVAULT_PORT="9",  # nothing listens: session end's nudge is refused at once
        )
        starts, ends = [], []
        for run in range(args.runs):
            payload = {"session_id": f"bench-{run}", "cwd": str(project)}
            starts.append(run_hook("session-start", payload, env, project))
            ends.append(run_hook("session-end", payload, env, project))
        report.latency("hooks session-start end to end (with briefing)", starts)
        report.latency("hooks session-end end to end", ends)
        timings = asyncio.run(mcp_calls(env, project, args.calls))
        report.latency("MCP stdio remember, per call", timings["remember"])
        report.latency("MCP stdio recall (keyword), per call", timings["recall"])
    for name, values in (("session-start", starts), ("session-end", ends)):
        p99 = sorted(values)[max(0, round(0.99 * len(values)) - 1)] * 1000
        verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
        print(f"target {name} p99 <= {TARGET_P99_MS:g} ms: {verdict} ({p99:.0f} ms)")
    if args.json:
        report.write_json(
            args.json,
            "agents",
            {"runs": args.runs, "calls": args.calls, "memories": args.memories},
        )
    return report


if __name__ == "__main__":
    main()
