"""A real Neo4j for the tests, run by the project's own launcher on free ports in a temp folder."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from memvault.config import Settings
from memvault.remote.neo4j import Neo4jReplica

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "tools" / "neo4j-server" / "neo4j-server"
PASSWORD = "memvault-test-password"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Neo4jServer:
    """One launcher-managed server: its addresses and the controls the tests need."""

    data_dir: Path
    bolt_port: int
    http_port: int

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NEO4J_DATA_DIR": str(self.data_dir),
            "NEO4J_BOLT_PORT": str(self.bolt_port),
            "NEO4J_HTTP_PORT": str(self.http_port),
            "NEO4J_PASSWORD": PASSWORD,
            "NEO4J_HEAP": os.environ.get("NEO4J_HEAP", "768m"),
        }

    def client_env(self) -> dict[str, str]:
        """Variables that point memvault at this server."""
        return {"NEO4J_URI": self.uri, "NEO4J_USER": "neo4j", "NEO4J_PASSWORD": PASSWORD}

    def settings(self, home: Path) -> Settings:
        return Settings(  # type: ignore[call-arg]
            _env_file=None,
            home=home,
            neo4j_uri=self.uri,
            neo4j_user="neo4j",
            neo4j_password=PASSWORD,
        )

    def control(self, command: str) -> subprocess.CompletedProcess[str]:
        """Run a launcher command against this server; raises with its output on failure."""
        done = subprocess.run(
            [str(LAUNCHER), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode not in (0, 3) or (command == "start" and done.returncode != 0):
            raise RuntimeError(f"neo4j-server {command} failed:\n{done.stdout}\n{done.stderr}")
        return done


def start_server(data_dir: Path) -> Neo4jServer:
    server = Neo4jServer(data_dir=data_dir, bolt_port=free_port(), http_port=free_port())
    server.control("start")
    return server


def with_replica(settings: Settings, work: Callable[[Neo4jReplica], Awaitable[T]]) -> T:
    """Open a replica client, run `work` with it, close it."""

    async def main() -> T:
        replica = Neo4jReplica.from_settings(settings)
        try:
            return await work(replica)
        finally:
            await replica.close()

    return asyncio.run(main())


def query(
    settings: Settings, cypher: str, *, write: bool = False, **params: Any
) -> list[dict[str, Any]]:
    """Run one query on the replica (a read unless `write`)."""

    async def run(replica: Neo4jReplica) -> list[dict[str, Any]]:
        if write:
            return await replica.write(cypher, **params)
        return await replica.read(cypher, **params)

    return with_replica(settings, run)
