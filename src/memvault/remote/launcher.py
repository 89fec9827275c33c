"""Find and drive the bundled Neo4j launcher (`tools/neo4j-server/neo4j-server`) for a checkout."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from memvault.config import Settings
from memvault.errors import StoreError

LAUNCHER_RELATIVE = Path("tools/neo4j-server/neo4j-server")
COMMANDS = ("start", "stop", "status", "restart", "logs", "build")


class LauncherNotFoundError(StoreError):
    """The launcher script is not in this checkout or where MEMVAULT_NEO4J_LAUNCHER points."""


def find_launcher(settings: Settings, cwd: Path | None = None) -> Path:
    """The launcher script: MEMVAULT_NEO4J_LAUNCHER, else the checkout memvault runs from."""
    if settings.neo4j_launcher is not None:
        if settings.neo4j_launcher.is_file():
            return settings.neo4j_launcher
        raise LauncherNotFoundError(
            f"MEMVAULT_NEO4J_LAUNCHER points at {settings.neo4j_launcher}, which is not a file"
        )
    starts = [Path(__file__).resolve().parent, (cwd or Path.cwd()).resolve()]
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / LAUNCHER_RELATIVE
            if candidate.is_file():
                return candidate
    raise LauncherNotFoundError(
        f"cannot find {LAUNCHER_RELATIVE}: run from a memvault checkout, or set "
        "MEMVAULT_NEO4J_LAUNCHER to the script's path"
    )


def launcher_environment(settings: Settings) -> dict[str, str]:
    """The environment for the launcher: the password and Bolt port memvault is configured with.

    The launcher serves the port of NEO4J_URI, so `memvault neo4j start` and the client agree.
    """
    env = dict(os.environ)
    if settings.neo4j_password is not None:
        env["NEO4J_PASSWORD"] = settings.neo4j_password.get_secret_value()
    port = urlsplit(settings.neo4j_uri).port
    if port is not None and "NEO4J_BOLT_PORT" not in os.environ:
        env["NEO4J_BOLT_PORT"] = str(port)
    return env


def run_launcher(settings: Settings, command: str, *args: str) -> int:
    """Run one launcher command, its output going to ours; returns its exit code."""
    if command not in COMMANDS:
        raise ValueError(f"unknown launcher command {command!r}")
    script = find_launcher(settings)
    done = subprocess.run(  # noqa: S603 - our own script, fixed command words
        [str(script), command, *args], env=launcher_environment(settings), check=False
    )
    return done.returncode
