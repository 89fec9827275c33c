"""Versioned, idempotent schema of the Neo4j replica: constraints and indexes.

Each version is a list of `IF NOT EXISTS` statements, so running setup again (or from two
machines at once) is harmless; applied versions are recorded as `(:SchemaMigration)` nodes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from memvault.config import Settings
from memvault.remote.neo4j import Neo4jReplica

DEFAULT_VECTOR_DIMENSIONS = 384  # all-MiniLM-L6-v2, the embedded default model


@dataclass(frozen=True)
class SchemaVersion:
    version: int
    name: str
    statements: tuple[str, ...]


def vector_index_statement(dimensions: int) -> str:
    """The vector index over Memory.embedding, sized to the embedding model (cosine)."""
    if not 1 <= dimensions <= 4096:
        raise ValueError("vector_dimensions must be between 1 and 4096")
    return (
        "CREATE VECTOR INDEX memory_embedding IF NOT EXISTS FOR (n:Memory) ON n.embedding "
        f"OPTIONS {{indexConfig: {{`vector.dimensions`: {int(dimensions)}, "
        "`vector.similarity_function`: 'cosine'}}"
    )


async def vector_index_dimensions(replica: Neo4jReplica) -> int | None:
    """The dimension the replica's vector index holds; None when it has none."""
    rows = await replica.read(
        "SHOW VECTOR INDEXES YIELD name, options WHERE name = 'memory_embedding'"
        " RETURN options.indexConfig.`vector.dimensions` AS dims"
    )
    return int(rows[0]["dims"]) if rows else None


async def rebuild_vector_index(replica: Neo4jReplica, dimensions: int) -> bool:
    """Make the vector index hold `dimensions`-dimensional vectors: dropped and created again
    when its size differs (Neo4j cannot resize an index). Returns whether it was rebuilt.
    Vectors of another size stay on their nodes but are not indexed."""
    if await vector_index_dimensions(replica) == dimensions:
        return False
    await replica.write("DROP INDEX memory_embedding IF EXISTS")
    await replica.write(vector_index_statement(dimensions))
    await replica.write("CALL db.awaitIndex('memory_embedding', 300)")
    return True


def schema_versions(vector_dimensions: int = DEFAULT_VECTOR_DIMENSIONS) -> list[SchemaVersion]:
    """Every schema version, in order. The vector index is sized to the embedding model."""
    return [
        SchemaVersion(
            1,
            "constraints_and_indexes",
            (
                # MERGE without a uniqueness constraint can create duplicates under concurrency.
                "CREATE CONSTRAINT memory_id IF NOT EXISTS FOR (n:Memory) REQUIRE n.id IS UNIQUE",
                "CREATE CONSTRAINT memory_version_key IF NOT EXISTS "
                "FOR (n:MemoryVersion) REQUIRE n.key IS UNIQUE",
                "CREATE CONSTRAINT session_id IF NOT EXISTS FOR (n:Session) REQUIRE n.id IS UNIQUE",
                "CREATE CONSTRAINT project_id IF NOT EXISTS FOR (n:Project) REQUIRE n.id IS UNIQUE",
                "CREATE CONSTRAINT task_id IF NOT EXISTS FOR (n:Task) REQUIRE n.id IS UNIQUE",
                vector_index_statement(vector_dimensions),
                "CREATE INDEX memory_project IF NOT EXISTS FOR (n:Memory) ON (n.project_id)",
                "CREATE INDEX memory_type IF NOT EXISTS FOR (n:Memory) ON (n.memory_type)",
                "CREATE INDEX memory_created IF NOT EXISTS FOR (n:Memory) ON (n.created_at)",
                "CREATE INDEX memory_updated IF NOT EXISTS FOR (n:Memory) ON (n.updated_at)",
                "CREATE INDEX session_project IF NOT EXISTS FOR (n:Session) ON (n.project_id)",
                "CREATE INDEX session_started IF NOT EXISTS FOR (n:Session) ON (n.started_at)",
            ),
        ),
        SchemaVersion(
            2,
            "replication_indexes",
            (
                # Pull reads heads by change number; point-in-time recovery reads history by time.
                "CREATE INDEX memory_remote_seq IF NOT EXISTS FOR (n:Memory) ON (n.remote_seq)",
                "CREATE INDEX memory_version_memory IF NOT EXISTS "
                "FOR (n:MemoryVersion) ON (n.memory_id)",
                "CREATE INDEX memory_version_updated IF NOT EXISTS "
                "FOR (n:MemoryVersion) ON (n.updated_at)",
            ),
        ),
        SchemaVersion(
            3,
            "fulltext_english",
            (
                # Version 1's `memory_content` used the standard analyzer (no stemming); the
                # local store's FTS5 stems (porter), so "rotating" found "rotate" locally but not
                # on the replica. The english analyzer stems too (and drops stop words, which
                # carry no meaning for recall).
                "DROP INDEX memory_content IF EXISTS",
                "CREATE FULLTEXT INDEX memory_text IF NOT EXISTS FOR (n:Memory) ON EACH [n.content]"
                " OPTIONS {indexConfig: {`fulltext.analyzer`: 'english'}}",
            ),
        ),
    ]


async def applied_schema_versions(replica: Neo4jReplica) -> list[int]:
    """Versions recorded in the replica, ascending."""
    rows = await replica.read("MATCH (s:SchemaMigration) RETURN s.version AS v ORDER BY v")
    return [int(row["v"]) for row in rows]


async def init_schema(
    replica: Neo4jReplica, vector_dimensions: int = DEFAULT_VECTOR_DIMENSIONS
) -> list[int]:
    """Create every constraint and index that is missing; returns the versions newly recorded."""
    done = set(await applied_schema_versions(replica))
    recorded = []
    for version in schema_versions(vector_dimensions):
        # Statements run even for recorded versions: IF NOT EXISTS makes that free, and it
        # repairs an index someone dropped by hand.
        for statement in version.statements:
            await replica.write(statement)
        if version.version not in done:
            await replica.write(
                "MERGE (s:SchemaMigration {version: $version}) "
                "ON CREATE SET s.name = $name, s.applied_at = datetime()",
                version=version.version,
                name=version.name,
            )
            recorded.append(version.version)
    return recorded


@dataclass(frozen=True)
class SchemaReport:
    """What `init-schema` found and did."""

    uri: str
    server_version: str
    newly_recorded: list[int]
    versions: list[int]
    constraints: list[str]
    indexes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        done = (
            f"applied version(s) {', '.join(map(str, self.newly_recorded))}"
            if self.newly_recorded
            else "already up to date"
        )
        return (
            f"Neo4j {self.server_version} at {self.uri}: schema {done}; "
            f"{len(self.constraints)} constraints, {len(self.indexes)} indexes"
        )


async def setup_schema(settings: Settings, vector_dimensions: int) -> SchemaReport:
    """Connect with the configured credentials, run init_schema, and report the result."""
    replica = Neo4jReplica.from_settings(settings)
    try:
        version = await replica.ping()
        recorded = await init_schema(replica, vector_dimensions)
        constraints = await replica.read("SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name")
        indexes = await replica.read(
            "SHOW INDEXES YIELD name, owningConstraint WHERE owningConstraint IS NULL "
            "RETURN name ORDER BY name"
        )
        return SchemaReport(
            uri=settings.neo4j_uri,
            server_version=version,
            newly_recorded=recorded,
            versions=await applied_schema_versions(replica),
            constraints=[row["name"] for row in constraints],
            indexes=[row["name"] for row in indexes],
        )
    finally:
        await replica.close()
