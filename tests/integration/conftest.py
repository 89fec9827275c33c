"""Integration fixtures: one real Neo4j for the whole test session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from memvault.remote.neo4j import Neo4jReplica
from memvault.remote.schema import init_schema, rebuild_vector_index

from .memvault_server import MemvaultServer
from .neo4j_server import Neo4jServer, start_server


@pytest.fixture(scope="session")
def neo4j_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jServer]:
    """Neo4j 5.26 started by tools/neo4j-server on free ports; stopped after the session."""
    server = start_server(tmp_path_factory.mktemp("neo4j") / "data")
    yield server
    server.control("stop")


@pytest.fixture
def neo4j_home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def empty_replica(neo4j_server: Neo4jServer) -> Neo4jServer:
    """The session's Neo4j with its graph wiped (schema kept) before the test."""
    settings = neo4j_server.settings(Path("/nonexistent"))

    async def wipe() -> None:
        replica = Neo4jReplica.from_settings(settings)
        try:
            await replica.write("MATCH (n) DETACH DELETE n")
            await init_schema(replica)
            await rebuild_vector_index(replica, 384)  # a reembed test may have resized it
        finally:
            await replica.close()

    asyncio.run(wipe())
    return neo4j_server


@pytest.fixture
def memvault_server(empty_replica: Neo4jServer, tmp_path: Path) -> Iterator[MemvaultServer]:
    """`memvault serve` over a fresh home folder, replicating to the wiped test Neo4j."""
    running = MemvaultServer(home=tmp_path / "home", neo4j=empty_replica)
    running.start()
    yield running
    running.stop()
