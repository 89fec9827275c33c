"""Neo4j over Bolt: one pooled async driver per process; errors mapped to memvault's vocabulary."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import neo4j
from neo4j import AsyncDriver, AsyncGraphDatabase
from neo4j import exceptions as neo4j_errors

from memvault.config import Settings
from memvault.errors import RejectedError, UnavailableError

CONNECT_TIMEOUT_S = 5.0


class Neo4jReplica:
    """A connection pool to one Neo4j database. Transport only: no retries, no policy."""

    def __init__(self, driver: AsyncDriver, database: str) -> None:
        self._driver = driver
        self.database = database

    @classmethod
    def from_settings(cls, settings: Settings) -> Neo4jReplica:
        """Build the driver (lazily connecting) from NEO4J_URI, NEO4J_USER and NEO4J_PASSWORD."""
        if settings.neo4j_password is None:
            raise RejectedError("NEO4J_PASSWORD is not set: put it in the environment or .env")
        driver = AsyncGraphDatabase.driver(
            settings.neo4j_uri,
            auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
            connection_timeout=CONNECT_TIMEOUT_S,
            connection_acquisition_timeout=CONNECT_TIMEOUT_S * 2,
            # Schema probes on an empty graph raise "label does not exist" notices; they are noise.
            notifications_min_severity="OFF",
        )
        return cls(driver, settings.neo4j_database)

    async def close(self) -> None:
        await self._driver.close()

    async def ping(self) -> str:
        """Check that the server answers and accepts our credentials; returns its version."""
        async with translated_errors():
            info = await self._driver.get_server_info()
            records = await self.read(
                "CALL dbms.components() YIELD versions RETURN versions[0] AS v"
            )
        return str(records[0]["v"]) if records else info.agent

    async def read(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run a read query and return its records as dicts."""
        async with translated_errors():
            result = await self._driver.execute_query(
                query, params, database_=self.database, routing_=neo4j.RoutingControl.READ
            )
        return [record.data() for record in result.records]

    async def write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run a write query in its own transaction (retried by the driver on transient errors)."""
        async with translated_errors():
            result = await self._driver.execute_query(query, params, database_=self.database)
        return [record.data() for record in result.records]


@asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    """Turn driver exceptions into UnavailableError (retry later) or RejectedError (won't work)."""
    try:
        yield
    except (neo4j_errors.AuthError, neo4j_errors.ConfigurationError) as exc:
        raise RejectedError(f"Neo4j refused the request: {exc}") from exc
    except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired, OSError) as exc:
        raise UnavailableError(f"Neo4j is unreachable: {exc}") from exc
    except neo4j_errors.TransientError as exc:
        raise UnavailableError(f"Neo4j is busy: {exc.message}") from exc
    except neo4j_errors.Neo4jError as exc:
        raise RejectedError(f"Neo4j rejected the query: {exc.code}: {exc.message}") from exc
