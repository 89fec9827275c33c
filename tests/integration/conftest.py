"""Integration fixtures: one real Neo4j for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
