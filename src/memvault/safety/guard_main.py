"""`memvault guard`: the agent hook that runs before every shell command.

The console script reaches `run()` without building the typer app (see `memvault.cli.main`):
typer, rich and pydantic cost ~300 ms to import, more than the whole budget of a hook that runs
on every command. Everything here is stdlib.
"""

from __future__ import annotations

import json
import os
import sys

from memvault.paths import STORE_FILE, configured_folder, default_folder
from memvault.safety import hooks_io
from memvault.safety.guard import decide
from memvault.safety.protected import ProtectedPaths

TYPE_CHECKING = False  # importing typing would cost the hook milliseconds; mypy reads this as True
if TYPE_CHECKING:
    from typing import TextIO

USAGE = """usage: memvault guard [--home PATH]

Reads an agent's pre-tool-use hook JSON (Claude Code PreToolUse/Bash, Codex CLI PreToolUse/Bash,
Gemini CLI BeforeTool/run_shell_command) on stdin and blocks shell commands that would delete,
move, truncate or overwrite memvault's store, in that agent's protocol. Everything else, and any
input it cannot read, is allowed.

  --home PATH   data folder to protect (default: MEMVAULT_HOME, .env, ~/.local/share/memvault)
"""


def protected_homes(home: str | None, payload_cwd: str | None) -> list[str]:
    """The data folders to protect: --home, else the configured one as seen from the guard's own
    directory and from the agent's; plus the default folder when a store lies there."""
    process_cwd = os.getcwd()
    if home is not None:
        return [os.path.join(process_cwd, home)]
    homes = [configured_folder(os.environ, process_cwd)]
    if payload_cwd and payload_cwd != process_cwd:
        homes.append(configured_folder(os.environ, payload_cwd))
    fallback = default_folder()
    if fallback not in homes and os.path.exists(os.path.join(fallback, STORE_FILE)):
        homes.append(fallback)
    return homes


def _parse_argv(argv: list[str]) -> tuple[str | None, str | None]:
    """(--home value, error)."""
    home = None
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--home" and i + 1 < len(argv):
            home, i = argv[i + 1], i + 2
        elif arg.startswith("--home="):
            home, i = arg.partition("=")[2], i + 1
        else:
            return None, f"unexpected argument {arg!r}"
    return home, None


def run(
    argv: list[str],
    home: str | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Answer one hook call read from stdin; return the exit code the agent expects."""
    stdin, stdout, stderr = stdin or sys.stdin, stdout or sys.stdout, stderr or sys.stderr
    if argv[:1] in (["-h"], ["--help"]):
        stdout.write(USAGE)
        return 0
    parsed_home, error = _parse_argv(argv)
    if error:
        stderr.write(f"memvault guard: {error}\n{USAGE}")
        return 1  # a non-blocking failure for every agent: the command still runs
    home = parsed_home if parsed_home is not None else home
    try:
        payload = json.loads(stdin.read())
    except (ValueError, UnicodeDecodeError) as exc:
        stderr.write(f"memvault guard: warning: hook input is not JSON ({exc}); allowed\n")
        return 0
    call = hooks_io.read_call(payload, os.getcwd())
    if isinstance(call, str):
        stderr.write(f"memvault guard: warning: {call}; allowed\n")
        return 0
    protected = ProtectedPaths(protected_homes(home, call.cwd))
    decision = decide(call.command, protected, call.cwd, os.environ)
    if decision.blocked and decision.reason:
        code, out, err = hooks_io.block_output(call.agent, decision.reason)
    else:
        code, out, err = hooks_io.allow_output(call.agent)
    stdout.write(out)
    stderr.write(err)
    return code


def main() -> None:
    """`memvault guard` without the typer app."""
    raise SystemExit(run(sys.argv[2:]))
