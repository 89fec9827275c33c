"""Neo4j over Bolt: one pooled async driver per process; errors mapped to memvault's vocabulary."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

import neo4j
from neo4j import AsyncDriver, AsyncGraphDatabase
from neo4j import exceptions as neo4j_errors

from memvault.config import Settings
from memvault.errors import RejectedError, UnavailableError
from memvault.models import Alert, Memory, Project, Session, SyncStatus, checked_hash, utc_now
from memvault.remote import cypher
from memvault.remote.protocol import (
    ApplyOutcome,
    Change,
    ExportFilter,
    Fingerprint,
    RemoteChange,
)
from memvault.store.embeddings import Embedded
from memvault.store.rows import to_db_time

# Local bookkeeping that means nothing on the replica.
_LOCAL_ONLY = frozenset({"sync_status", "synced_at", "remote_id"})
_TIME_FIELDS = ("created_at", "updated_at", "deleted_at")

CONNECT_TIMEOUT_S = 5.0
# Fingerprints carry the text (to check each stored hash): pages bound one message's size.
FINGERPRINT_PAGE = 10_000


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
            # Transport only: the replicator owns retries and backoff, so the driver must not
            # spend 30 s retrying an unreachable server inside one call.
            max_transaction_retry_time=0,
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

    async def _read_page(self, query: str, **params: Any) -> list[Any]:
        """The list a page query returns in its one record (`... AS page`), as decoded: without
        data()'s walk over every element, which dominates exports of 384-dim vectors."""
        async with translated_errors():
            result = await self._driver.execute_query(
                query, params, database_=self.database, routing_=neo4j.RoutingControl.READ
            )
        return list(result.records[0]["page"]) if result.records else []

    async def write(self, query: str, **params: Any) -> list[dict[str, Any]]:
        """Run a write query in its own transaction (retried by the driver on transient errors)."""
        async with translated_errors():
            result = await self._driver.execute_query(query, params, database_=self.database)
        return [record.data() for record in result.records]

    # -- the Replica protocol ---------------------------------------------------------------------

    async def apply(self, changes: Sequence[Change]) -> list[ApplyOutcome]:
        """Record every version and advance heads, in one transaction (see cypher.py)."""
        if not changes:
            return []
        newest: dict[UUID, Change] = {}
        for change in changes:
            held = newest.get(change.memory.id)
            if held is None or change.memory.version_key() > held.memory.version_key():
                newest[change.memory.id] = change
        heads = {id(change) for change in newest.values()}
        params = [_change_param(change, head=id(change) in heads) for change in changes]
        projects, sessions, tasks = _context_params(changes)
        now = to_db_time(utc_now())

        async def work(tx: neo4j.AsyncManagedTransaction) -> list[dict[str, Any]]:
            if projects:
                await (await tx.run(cypher.MERGE_PROJECTS, projects=projects)).consume()
            if sessions:
                await (await tx.run(cypher.MERGE_SESSIONS, sessions=sessions)).consume()
            if tasks:
                await (await tx.run(cypher.MERGE_TASKS, tasks=tasks)).consume()
            result = await tx.run(cypher.APPLY_CHANGES, changes=params, now=now)
            return [record.data() async for record in result]

        async with translated_errors(), self._driver.session(database=self.database) as session:
            rows = await session.execute_write(work)
        return [
            ApplyOutcome(
                memory_id=UUID(row["memory_id"]),
                event_id=UUID(row["event_id"]),
                applied=bool(row["applied"]),
                remote_id=row["remote_id"],
                head_version=int(row["head_version"]),
                head_event_id=str(row["head_event_id"]),
            )
            for row in rows
        ]

    async def apply_embeddings(self, items: Sequence[Embedded]) -> int:
        """Set vectors on the versions they were computed for (see cypher.SET_EMBEDDINGS)."""
        if not items:
            return 0
        params = [
            {"id": i.memory_id, "event_id": i.event_id, "vector": i.vector, "model": i.model}
            for i in items
        ]
        rows = await self.write(cypher.SET_EMBEDDINGS, items=params)
        return int(rows[0]["n"]) if rows else 0

    async def record_alerts(self, alerts: Sequence[Alert]) -> None:
        """Upsert alerts as (:Alert) audit nodes; evidence is kept as JSON text."""
        if not alerts:
            return
        rows = [
            {
                **alert.model_dump(mode="json", exclude={"evidence"}, exclude_none=True),
                "evidence": json.dumps(alert.evidence, default=str),
            }
            for alert in alerts
        ]
        await self.write(cypher.RECORD_ALERTS, alerts=rows)

    async def changes_since(self, cursor: int, limit: int) -> list[RemoteChange]:
        rows = await self.read(cypher.CHANGES_SINCE, cursor=cursor, limit=limit)
        return [
            RemoteChange(
                seq=int(row["m"]["remote_seq"]),
                memory=memory_from_props(row["m"]),
                origin=row["m"].get("origin"),
            )
            for row in rows
        ]

    async def export_heads(self, flt: ExportFilter, after_id: str, limit: int) -> list[Memory]:
        page = await self._read_page(
            cypher.EXPORT_HEADS, **_export_params(flt), after_id=after_id, limit=limit
        )
        return [memory_from_props(props) for props in page]

    async def export_versions(self, memory_ids: Sequence[str]) -> list[Memory]:
        page = await self._read_page(cypher.EXPORT_VERSIONS, ids=list(memory_ids))
        return [memory_from_props(props) for props in page]

    async def export_context(self) -> tuple[list[Session], list[Project]]:
        sessions = await self.read(cypher.EXPORT_SESSIONS)
        projects = await self.read(cypher.EXPORT_PROJECTS)
        return (
            [Session.model_validate(known_fields(row["s"], Session)) for row in sessions],
            [Project.model_validate(known_fields(row["p"], Project)) for row in projects],
        )

    async def apply_context(self, sessions: Sequence[Session], projects: Sequence[Project]) -> None:
        """Upsert projects, then sessions with their links, in one transaction (see cypher.py)."""
        if not sessions and not projects:
            return
        project_rows = [_context_props(project) for project in projects]
        session_rows = [_context_props(session) for session in sessions]

        async def work(tx: neo4j.AsyncManagedTransaction) -> None:
            if project_rows:
                await (await tx.run(cypher.UPSERT_PROJECTS, projects=project_rows)).consume()
            if session_rows:
                await (await tx.run(cypher.UPSERT_SESSIONS, sessions=session_rows)).consume()

        async with translated_errors(), self._driver.session(database=self.database) as session:
            await session.execute_write(work)

    async def fingerprints(self, flt: ExportFilter) -> list[Fingerprint]:
        found: list[Fingerprint] = []
        after_id = ""
        while page := await self._read_page(
            cypher.FINGERPRINTS, **_export_params(flt), after_id=after_id, limit=FINGERPRINT_PAGE
        ):
            found.extend(
                Fingerprint(i, int(v), checked_hash(h, c), bool(d)) for i, v, h, c, d in page
            )
            after_id = found[-1].memory_id
        return found

    async def memory_count(self, flt: ExportFilter | None = None) -> int:
        if flt is None:
            rows = await self.read(cypher.MEMORY_COUNT)
        else:
            rows = await self.read(cypher.EXPORT_COUNT, **_export_params(flt), after_id="")
        return int(rows[0]["n"])


def memory_props(memory: Memory) -> dict[str, Any]:
    """A memory as Neo4j node properties: primitives and lists only, times as memvault strings."""
    props = memory.model_dump(mode="json", exclude=set(_LOCAL_ONLY), exclude_none=True)
    for field in _TIME_FIELDS:
        value = getattr(memory, field)
        if value is not None:
            props[field] = to_db_time(value)
    return props


def memory_from_props(props: dict[str, Any]) -> Memory:
    """A memory read from the replica (head or version), marked as synced."""
    return Memory.model_validate({**known_fields(props, Memory), "sync_status": SyncStatus.SYNCED})


def known_fields(
    props: dict[str, Any], model: type[Memory] | type[Session] | type[Project]
) -> dict[str, Any]:
    """The properties that are fields of `model` (a node also holds replica bookkeeping)."""
    fields = model.model_fields  # once: the class property is slow enough to show in exports
    return {key: value for key, value in props.items() if key in fields}


def _context_props(item: Session | Project) -> dict[str, Any]:
    return {
        key: to_db_time(value) if isinstance(value, datetime) else value
        for key, value in item.model_dump().items()
    }


def _change_param(change: Change, *, head: bool) -> dict[str, Any]:
    return {
        "props": memory_props(change.memory),
        "operation": change.operation.value,
        "origin": change.origin,
        "head": head,
    }


def _context_params(
    changes: Sequence[Change],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """The distinct projects, sessions and tasks a batch refers to (first mention wins)."""
    projects: dict[str, dict[str, Any]] = {}
    sessions: dict[str, dict[str, Any]] = {}
    tasks: dict[str, None] = {}
    for change in changes:
        memory = change.memory
        created = to_db_time(memory.created_at)
        if memory.project_id is not None:
            projects.setdefault(memory.project_id, {"id": memory.project_id, "created_at": created})
        if memory.session_id is not None:
            sessions.setdefault(
                memory.session_id,
                {
                    "id": memory.session_id,
                    "project_id": memory.project_id,
                    "started_at": created,
                    "agent": memory.source,
                },
            )
        if memory.task_id is not None:
            tasks.setdefault(memory.task_id, None)
    return list(projects.values()), list(sessions.values()), list(tasks)


def _export_params(flt: ExportFilter) -> dict[str, Any]:
    return {
        "project_id": flt.project_id,
        "since": to_db_time(flt.since) if flt.since else None,
        "include_deleted": flt.include_deleted,
    }


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
