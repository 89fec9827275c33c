"""A real `memvault serve` process for the integration tests: start, wait, kill, restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from polling import wait_for

from .neo4j_server import Neo4jServer, free_port

__all__ = ["WEBHOOK_TOKEN", "MemvaultServer", "wait_for"]

MEMVAULT = Path(sys.executable).with_name("memvault")
WEBHOOK_TOKEN = "integration-webhook-secret"
_SCRUBBED = ("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_")


@dataclass
class MemvaultServer:
    """`memvault serve` over one home folder and one Neo4j, with its stderr (JSON logs) kept."""

    home: Path
    neo4j: Neo4jServer
    neo4j_uri: str | None = None  # override, e.g. a port where nothing listens
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log_path: Path | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # applied last

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env["XDG_CONFIG_HOME"] = str(self.home.parent / "config")  # no user settings file
        env.update(self.neo4j.client_env())
        if self.neo4j_uri:
            env["NEO4J_URI"] = self.neo4j_uri
        env.update(
            MEMVAULT_HOME=str(self.home),
            MEMORY_WEBHOOK_TOKEN=WEBHOOK_TOKEN,
            OLLAMA_URL=f"http://127.0.0.1:{free_port()}",
            MEMVAULT_EMBEDDINGS="none",  # tests about embeddings choose a provider
            MEMVAULT_PORT=str(self.port),  # where the CLI (a hook) finds this server
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 60.0) -> None:
        self.log_path = self.home.parent / f"serve-{self.port}-{time.monotonic_ns()}.log"
        log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(MEMVAULT), "serve", "--port", str(self.port)],
            env=self.env(),
            cwd=self.home.parent,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"memvault serve exited:\n{self.logs()}")
            try:
                if httpx.get(f"{self.url}/api/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"memvault serve did not answer in {timeout} s:\n{self.logs()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush; what a crash looks like."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def cli(self, *args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the `memvault` console script with this server's environment and home."""
        return subprocess.run(
            [str(MEMVAULT), *args],
            env=self.env(),
            cwd=self.home.parent,
            input=input_text,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def cli_json(self, *args: str) -> Any:
        """Run a command with `--json`; it must succeed; returns the parsed output."""
        done = self.cli(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path and self.log_path.exists() else ""
