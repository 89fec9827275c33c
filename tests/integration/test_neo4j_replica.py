"""The replica client and schema against the real Neo4j server of the launcher."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from pydantic import SecretStr

from memvault.config import Settings
from memvault.errors import RejectedError, UnavailableError
from memvault.models import Memory, MemoryType, content_hash, utc_now
from memvault.remote.neo4j import Neo4jReplica
from memvault.remote.schema import init_schema, schema_versions, setup_schema

from .neo4j_server import Neo4jServer, free_port, with_replica

MEMVAULT = Path(sys.executable).with_name("memvault")


@pytest.fixture
def settings(neo4j_server: Neo4jServer, neo4j_home: Path) -> Settings:
    return neo4j_server.settings(neo4j_home)


def test_connects_and_reports_the_server_version(settings: Settings) -> None:
    version = with_replica(settings, lambda replica: replica.ping())
    assert version.startswith("5.26.")


def test_a_wrong_password_is_rejected_not_retried(settings: Settings) -> None:
    wrong = settings.model_copy(update={"neo4j_password": SecretStr("not-the-password")})
    with pytest.raises(RejectedError, match="Neo4j refused"):
        with_replica(wrong, lambda replica: replica.ping())


def test_an_unreachable_server_is_unavailable(settings: Settings) -> None:
    nowhere = settings.model_copy(update={"neo4j_uri": f"bolt://127.0.0.1:{free_port()}"})
    with pytest.raises(UnavailableError, match="unreachable"):
        with_replica(nowhere, lambda replica: replica.ping())


def test_schema_setup_is_idempotent_and_creates_every_index(settings: Settings) -> None:
    first = asyncio.run(setup_schema(settings, 384))
    second = asyncio.run(setup_schema(settings, 384))

    assert second.newly_recorded == []
    assert second.versions == [v.version for v in schema_versions()]
    assert set(first.versions) == set(second.versions)
    assert {"memory_id", "memory_version_key", "session_id", "project_id", "task_id"} <= set(
        second.constraints
    )
    assert {"memory_text", "memory_embedding", "memory_project", "memory_created"} <= set(
        second.indexes
    )

    async def vector_index(replica: Neo4jReplica) -> list[dict[str, Any]]:
        return await replica.read(
            "SHOW VECTOR INDEXES YIELD name, options WHERE name = 'memory_embedding' "
            "RETURN options.indexConfig.`vector.dimensions` AS dims"
        )

    assert with_replica(settings, vector_index) == [{"dims": 384}]


def test_a_memory_node_is_written_and_read_back(settings: Settings) -> None:
    now = utc_now()
    memory = Memory(
        id=uuid4(),
        content="Use exponential backoff with full jitter for Neo4j retries",
        memory_type=MemoryType.PROCEDURAL,
        importance=0.8,
        tags=["sync", "retry"],
        project_id="memvault",
        created_at=now,
        updated_at=now,
        content_hash=content_hash("Use exponential backoff with full jitter for Neo4j retries"),
    )
    props = memory.model_dump(mode="json", exclude={"embedding"}, exclude_none=True)

    async def write_then_read(replica: Neo4jReplica) -> list[dict[str, Any]]:
        await init_schema(replica)
        await replica.write("CREATE (m:Memory) SET m = $props", props=props)
        return await replica.read("MATCH (m:Memory {id: $id}) RETURN m", id=str(memory.id))

    rows = with_replica(settings, write_then_read)
    assert len(rows) == 1
    assert Memory.model_validate(rows[0]["m"]) == memory

    async def duplicate(replica: Neo4jReplica) -> None:
        await replica.write("CREATE (m:Memory) SET m = $props", props=props)

    # The uniqueness constraint holds: a second node with the same id is refused.
    with pytest.raises(RejectedError, match="ConstraintValidationFailed"):
        with_replica(settings, duplicate)


def test_data_survives_a_restart_of_the_server(
    neo4j_server: Neo4jServer, settings: Settings
) -> None:
    marker = str(uuid4())

    async def write(replica: Neo4jReplica) -> None:
        await replica.write("CREATE (:RestartProbe {id: $id})", id=marker)

    async def read(replica: Neo4jReplica) -> list[dict[str, Any]]:
        return await replica.read("MATCH (p:RestartProbe {id: $id}) RETURN p.id AS id", id=marker)

    with_replica(settings, write)
    neo4j_server.control("stop")
    assert neo4j_server.control("status").returncode == 3
    neo4j_server.control("start")
    assert with_replica(settings, read) == [{"id": marker}]


def _cli(neo4j_server: Neo4jServer, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEO4J_", "MEMVAULT_"))}
    env.update(neo4j_server.client_env(), MEMVAULT_HOME=str(home))
    return subprocess.run(
        [str(MEMVAULT), *args],
        env=env,
        cwd=home.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_init_schema_twice_and_doctor_reports_neo4j_reachable(
    neo4j_server: Neo4jServer, neo4j_home: Path
) -> None:
    first = _cli(neo4j_server, neo4j_home, "neo4j", "init-schema", "--json")
    assert first.returncode == 0, first.stderr
    again = _cli(neo4j_server, neo4j_home, "neo4j", "init-schema")
    assert again.returncode == 0, again.stderr
    assert "already up to date" in again.stdout
    assert "memory_embedding" in json.loads(first.stdout)["indexes"]

    assert _cli(neo4j_server, neo4j_home, "remember", "doctor needs a store").returncode == 0
    doctor = _cli(neo4j_server, neo4j_home, "doctor", "--json")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    checks = {check["name"]: check for check in json.loads(doctor.stdout)["checks"]}
    assert checks["neo4j"]["ok"] is True
    assert "5.26." in checks["neo4j"]["detail"]


def test_cli_neo4j_status_speaks_for_the_configured_server(
    neo4j_server: Neo4jServer, neo4j_home: Path
) -> None:
    env_server = {k: v for k, v in neo4j_server.env.items() if k.startswith("NEO4J_")}
    done = subprocess.run(
        [str(MEMVAULT), "neo4j", "status"],
        env={**os.environ, **env_server, "MEMVAULT_HOME": str(neo4j_home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"bolt://127.0.0.1:{neo4j_server.bolt_port}" in done.stdout
