"""The command guard: decision time per command, and `memvault guard` end to end.

    .venv/bin/python bench/bench_guard.py [--rounds 200] [--runs 3] [--json PATH]

The table is the guard's test table (tests/data/guard/commands.json: destructive commands and
benign ones), run under a temporary HOME holding a real store. In process, `decide()` is timed
`--rounds` times per command. End to end, the installed console script reads each command in
Claude Code's hook format on stdin, `--runs` times per command, one process at a time: interpreter
start, imports, the decision and the answer, as an agent pays them. With bytecode cached (as in
an installed package) and without (PYTHONDONTWRITEBYTECODE=1, as in a development checkout that
sets it). Target: p99 <= 50 ms including interpreter start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import Report, base_parser, print_header
from memvault.safety.guard import decide
from memvault.safety.protected import ProtectedPaths
from memvault.store import LocalStore

TABLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "guard" / "commands.json"
MEMVAULT = Path(sys.executable).with_name("memvault")
TARGET_P99_MS = 50.0


def hook_input(command: str, cwd: Path) -> str:
    """Claude Code's PreToolUse payload for a Bash command."""
    return json.dumps(
        {
            "session_id": "bench",
            "cwd": str(cwd),
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": command},
        }
    )


def end_to_end(commands: list[str], runs: int, env: dict[str, str], cwd: Path) -> list[float]:
    """Seconds per `memvault guard` process, each command `runs` times, one at a time."""
    durations = []
    for _ in range(runs):
        for command in commands:
            payload = hook_input(command, cwd)
            started = time.perf_counter()
            subprocess.run(
                [str(MEMVAULT), "guard"],
                input=payload,
                capture_output=True,
                text=True,
                env=env,
                cwd=cwd,
                timeout=60,
                check=False,
            )
            durations.append(time.perf_counter() - started)
    return durations


def main(argv: list[str] | None = None) -> Report:
    """Time the guard over the table and print the figures."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="decide() calls per command")
    parser.add_argument("--runs", type=int, default=3, help="processes per command")
    args = parser.parse_args(argv)
    table = json.loads(TABLE.read_text(encoding="utf-8"))
    commands: list[str] = table["blocked"] + table["allowed"]
    print_header(
        f"guard: {len(table['blocked'])} destructive and {len(table['allowed'])} benign commands"
    )
    report = Report()
    with tempfile.TemporaryDirectory(prefix="memvault-bench-") as tmp:
        root = Path(tmp)
        home = root / "home"
        data = home / ".local" / "share" / "memvault"
        project = root / "project"
        project.mkdir()
        LocalStore.open(data / "memvault.db").close()
        unset = ("XDG_DATA_HOME", "MEMVAULT_HOME", "PYTHONDONTWRITEBYTECODE")
        env = {k: v for k, v in os.environ.items() if k not in unset}
        env.update(HOME=str(home), MEMVAULT_HOME=str(data), PYTHONPYCACHEPREFIX=str(root / "pyc"))

        protected = ProtectedPaths.for_home(data)
        for command in commands:  # first calls load the rule tables and compile expressions
            decide(command, protected, project, env)
        per_call: list[float] = []
        blocked_calls: list[float] = []
        for command in commands:
            blocked = decide(command, protected, project, env).blocked
            started = time.perf_counter()
            for _ in range(args.rounds):
                decide(command, protected, project, env)
            seconds = (time.perf_counter() - started) / args.rounds
            per_call.append(seconds)
            if blocked:
                blocked_calls.append(seconds)
        report.latency("guard decide(), per command (in process)", per_call)
        report.latency("guard decide(), destructive commands only", blocked_calls)
        per_call.sort()
        report.value("guard decide() p50", per_call[len(per_call) // 2] * 1e6, "µs")

        end_to_end(commands[:5], 1, env, project)  # writes the bytecode cache
        bare = []
        for _ in range(30):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=env, check=True, timeout=60)
            bare.append(time.perf_counter() - started)
        report.latency("python -c pass (interpreter start alone)", bare)
        cached = end_to_end(commands, args.runs, env, project)
        report.latency("memvault guard end to end, bytecode cached", cached)
        cold_env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
        cold_env.pop("PYTHONPYCACHEPREFIX")
        cold = end_to_end(commands, 1, cold_env, project)
        report.latency("memvault guard end to end, no bytecode", cold)
    p99 = report.figures[-2]["p99"]
    verdict = "met" if p99 <= TARGET_P99_MS else "MISSED"
    print(f"target p99 <= {TARGET_P99_MS:g} ms with bytecode cached: {verdict} ({p99:.1f} ms)")
    if args.json:
        report.write_json(
            args.json,
            "guard",
            {"rounds": args.rounds, "runs": args.runs, "commands": len(commands)},
        )
    return report


if __name__ == "__main__":
    main()
