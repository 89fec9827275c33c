"""A real Neo4j for the benchmarks: the project's launcher on free ports in a temp data folder.

    with running_neo4j(Path(tmp, "neo4j")) as neo4j:
        settings = neo4j.settings(home)
        await neo4j.reset()  # empty graph, schema in place

The server is the one `tools/neo4j-server/neo4j-server` runs for everyone (Neo4j 5.26 Community
from Maven Central jars). Heap and page cache are the launcher's defaults unless NEO4J_HEAP or
NEO4J_PAGECACHE are set in the environment; `describe()` says which were used.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from neo4j import GraphDatabase

from common import free_port
from memvault.config import Settings
from memvault.remote.neo4j import Neo4jReplica
from memvault.remote.schema import init_schema

REPO = Path(__file__).resolve().parents[1]
LAUNCHER = REPO / "tools" / "neo4j-server" / "neo4j-server"
PASSWORD = "memvault-bench-password"
USER = "neo4j"
LAUNCHER_TIMEOUT_S = 300.0  # the first start may build the launcher (Maven) before starting
# Rows per delete transaction when wiping: bounds the transaction state a wipe holds in the heap.
WIPE_BATCH = 10_000


@dataclass
class Neo4jServer:
    """One launcher-managed server: where it listens and how to drive it."""

    data_dir: Path
    bolt_port: int
    http_port: int

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.bolt_port}"

    def launcher_env(self) -> dict[str, str]:
        """The environment of the launcher commands for this server."""
        return {
            **os.environ,
            "NEO4J_DATA_DIR": str(self.data_dir),
            "NEO4J_BOLT_PORT": str(self.bolt_port),
            "NEO4J_HTTP_PORT": str(self.http_port),
            "NEO4J_PASSWORD": PASSWORD,
        }

    def client_env(self) -> dict[str, str]:
        """The variables that point a memvault process at this server."""
        return {"NEO4J_URI": self.uri, "NEO4J_USER": USER, "NEO4J_PASSWORD": PASSWORD}

    def settings(self, home: Path) -> Settings:
        """memvault settings over `home`, replicating to this server (no .env is read)."""
        return Settings(
            _env_file=None,
            home=home,
            neo4j_uri=self.uri,
            neo4j_user=USER,
            neo4j_password=PASSWORD,
            log_level="WARNING",
        )

    def describe(self) -> str:
        heap = os.environ.get("NEO4J_HEAP", "1g (launcher default)")
        pagecache = os.environ.get("NEO4J_PAGECACHE", "256m (launcher default)")
        return (
            f"Neo4j 5.26 via tools/neo4j-server at {self.uri}, heap {heap}, page cache {pagecache}"
        )

    def control(self, command: str) -> None:
        """Run `neo4j-server <command>` for this server; raises with its output on failure."""
        done = subprocess.run(
            [str(LAUNCHER), command],
            env=self.launcher_env(),
            capture_output=True,
            text=True,
            timeout=LAUNCHER_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"neo4j-server {command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )

    def wipe(self) -> None:
        """Delete every node and relationship, in batches; constraints and indexes stay."""
        # CALL { } IN TRANSACTIONS needs an auto-commit transaction: session.run, not
        # execute_query (a managed transaction) or the replica's helpers.
        with (
            GraphDatabase.driver(self.uri, auth=(USER, PASSWORD)) as driver,
            driver.session() as session,
        ):
            session.run(
                f"MATCH (n) CALL (n) {{ DETACH DELETE n }} IN TRANSACTIONS OF {WIPE_BATCH} ROWS"
            ).consume()

    async def reset(self) -> None:
        """An empty graph with memvault's schema (constraints, indexes) in place."""
        self.wipe()
        replica = Neo4jReplica.from_settings(self.settings(Path("/nonexistent")))
        try:
            await init_schema(replica)
        finally:
            await replica.close()


@contextmanager
def running_neo4j(data_dir: Path) -> Iterator[Neo4jServer]:
    """Start a server on free ports with its data under `data_dir`; always stop it after."""
    server = Neo4jServer(data_dir=data_dir, bolt_port=free_port(), http_port=free_port())
    print(f"   starting {server.describe()} ...", flush=True)
    try:
        server.control("start")
        yield server
    finally:
        # `stop` is a no-op when the server never came up, so this is safe after a failed start.
        server.control("stop")
