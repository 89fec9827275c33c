"""Run several real Python processes and release them at the same instant.

Each script prints `ready` once it has done its setup, then reads one line from stdin before
each round of work and prints one line when the round is done. The parent releases every
process for a round only after all finished the previous one, so their work truly overlaps
instead of drifting apart or being serialised by interpreter start-up time.
"""

from __future__ import annotations

import subprocess
import sys

TIMEOUT_S = 120


def run_together(script: str, argvs: list[list[str]], rounds: int = 1) -> list[list[str]]:
    """Run `script` once per argv list, in lock-step rounds; return each one's round lines.

    Fails the test (with the child's stderr) if a process stops early or exits non-zero.
    """
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for argv in argvs
    ]
    try:
        _read_line(procs, expected="ready")
        lines: list[list[str]] = [[] for _ in procs]
        for _ in range(rounds):
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            for got, line in zip(lines, _read_line(procs), strict=True):
                got.append(line)
        for proc in procs:
            _, err = proc.communicate(timeout=TIMEOUT_S)
            assert proc.returncode == 0, f"worker exited {proc.returncode}:\n{err}"
        return lines
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def _read_line(procs: list[subprocess.Popen[str]], expected: str | None = None) -> list[str]:
    lines = []
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line or (expected is not None and line != expected):
            proc.kill()
            _, err = proc.communicate(timeout=TIMEOUT_S)
            raise AssertionError(f"worker stopped early (said {line!r}):\n{err}")
        lines.append(line)
    return lines
