"""Replication and recovery routes: the contract of the architecture page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from memvault.api.deps import ServiceDep
from memvault.api.errors import ErrorOut, error_response
from memvault.api.routes_memories import ERRORS, WRITE, MemoryOut, Responses
from memvault.api.security import bearer_scheme
from memvault.errors import InvalidInputError
from memvault.signatures import SIGNATURE_HEADER, SignatureError, verify
from memvault.sync.ingest import IngestMemory

router = APIRouter(prefix="/api", tags=["sync"])

SIGNED_PATHS = frozenset({"/api/sync/memory"})

_NO_REPLICA: Responses = {
    503: {"model": ErrorOut, "description": "No replica is configured (NEO4J_PASSWORD is unset)"}
}
_WRITE_SECURITY = [Security(bearer_scheme)]

# The status route has always sent `datetime.isoformat()` (`+00:00`, not pydantic's `Z`).
IsoDatetime = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class TriggerRequest(BaseModel):
    """Optionally name memories whose current version must be sent again."""

    memory_ids: list[UUID] = Field(
        default_factory=list,
        max_length=10_000,
        description="Memories whose current version is queued again, even if the replica has it",
    )


class TriggerResponse(BaseModel):
    """The replicator was woken; what was queued again and what waits."""

    accepted: bool = Field(description="Always true: the replicator drains now")
    requeued: int = Field(description="Named memories whose current version was queued again")
    queue_size: int = Field(description="Changes in the outbox after the trigger, held included")


class BootstrapRequest(BaseModel):
    """What to recover from the replica; every option narrows the run, none deletes."""

    project_id: str | None = Field(
        default=None, description="Only this project's memories (default: every project)"
    )
    since: datetime | None = Field(
        default=None,
        description="Only memories updated at or after this moment (with a timezone offset)",
    )
    dry_run: bool = Field(default=False, description="Judge and count, write nothing")


# The state of the ingested memory, part of every answer of the signed ingest but 400/401.
IngestedId = Annotated[UUID, Field(description="The memory's id: the one sent, or a new one")]
IngestedVersion = Annotated[int, Field(description="The memory's sync_version now")]
RemoteId = Annotated[
    str | None, Field(description="Its id on the replica; null until it has been replicated")
]
SyncedAt = Annotated[
    datetime | None, Field(description="When it last reached the replica; null until then")
]
EmbeddingGenerated = Annotated[
    bool, Field(description="Whether it has an embedding yet (they are made after the write)")
]


class IngestOut(BaseModel):
    """The memory is stored here and on the replica."""

    success: Literal[True]
    outcome: Literal["created", "updated", "unchanged"] = Field(
        description="New memory, next version of one, or the version already held"
    )
    memory_id: IngestedId
    sync_version: IngestedVersion
    remote_id: RemoteId
    synced_at: SyncedAt
    embedding_generated: EmbeddingGenerated


class ConflictResolution(BaseModel):
    """Which version last-write-wins kept, and by which rule."""

    winner: Literal["local", "incoming"] = Field(
        description="`local`: ours stays; `incoming`: the one sent replaced ours"
    )
    rule: str = Field(description="The rule that decided, in words")
    kept: MemoryOut = Field(description="The version stored now")


class IngestConflictOut(BaseModel):
    """The memory was changed here too; last-write-wins decided, and the conflict is recorded
    for a person to review (`memvault conflicts`)."""

    success: Literal[False]
    error: Literal["conflict"]
    message: str
    memory_id: IngestedId
    sync_version: IngestedVersion
    remote_id: RemoteId
    synced_at: SyncedAt
    embedding_generated: EmbeddingGenerated
    local: MemoryOut = Field(description="Our version before the ingest")
    remote: IngestMemory = Field(description="The body as it was sent")
    resolution: ConflictResolution


class IngestQueuedOut(BaseModel):
    """The memory is stored here but not yet on the replica: it waits in the outbox, and the
    replicator retries."""

    success: Literal[False]
    error: Literal["replica_unavailable"]
    message: str = Field(description="Why the replica did not take it")
    queued: Literal[True]
    memory_id: IngestedId
    sync_version: IngestedVersion
    remote_id: RemoteId
    synced_at: SyncedAt
    embedding_generated: EmbeddingGenerated


class SyncStatusOut(BaseModel):
    """Replication health: connectivity, the outbox, the last push and the lag."""

    healthy: bool = Field(
        description="Neo4j answers, no memory failed to replicate, and the last push succeeded"
    )
    neo4j_connected: bool = Field(description="The replica answered a ping (within 3 s)")
    n8n_connected: bool | None = Field(
        description="n8n's webhook is reachable; null when N8N_WEBHOOK_URL is unset"
    )
    ollama_connected: bool = Field(description="Ollama (the embedding server) answers")
    queue_size: int = Field(description="Changes in the outbox, held ones included")
    pending_count: int = Field(description="Changes waiting to be sent: queue_size - held_count")
    held_count: int = Field(
        description="Changes quarantined by the destruction detector: kept, not sent"
    )
    failed_count: int = Field(description="Memories whose replication failed")
    last_sync: IsoDatetime | None = Field(
        description="When the last successful push was recorded; null before the first"
    )
    last_error: str | None = Field(
        description="The error of the last push when it failed; null when it succeeded"
    )
    replication_lag_seconds: float = Field(
        description="Age of the oldest unsent, unheld change, in seconds; 0 when none waits"
    )
    oldest_pending_age_seconds: float = Field(
        description="Age of the oldest change in the outbox (held ones included), in seconds"
    )
    neo4j_error: str | None = Field(description="Why the ping failed; null when connected")


Count = Annotated[int, Field(description="How many in all (the list above names at most 100)")]


class VerificationOut(BaseModel):
    """How the recovered scope compares with the replica afterwards. Each list names at most
    100 memory ids; its `_count` is complete."""

    in_sync: bool = Field(description="No memory differs (pending local changes aside)")
    compared: int = Field(description="Memories compared")
    missing_local: list[str] = Field(description="On the replica, not here")
    missing_local_count: Count
    missing_remote: list[str] = Field(description="Here, not on the replica")
    missing_remote_count: Count
    version_differs: list[str] = Field(description="Held in another sync_version on each side")
    version_differs_count: Count
    hash_differs: list[str] = Field(description="Same version, other text or state")
    hash_differs_count: Count
    local_pending: list[str] = Field(
        description="Local changes still in the outbox: not drift, the replica will get them"
    )
    local_pending_count: Count
    digest_local: str = Field(description="SHA-256 over the local copy's fingerprints")
    digest_remote: str = Field(description="SHA-256 over the replica's fingerprints")


class BootstrapOut(BaseModel):
    """What a recovery did, and whether the result matches the replica."""

    recovered: int = Field(description="Memories inserted or replaced (dry run: would be)")
    skipped: int = Field(description="Already held in the same version")
    conflicts: int = Field(description="Newer here or with unsent changes: left alone")
    duration_s: float = Field(description="How long the recovery took, in seconds")
    verified: bool = Field(
        description="The recovered scope matches the replica (never for a dry run)"
    )
    digest_local: str = Field(
        description="SHA-256 of the local copy after the run; empty for a dry run"
    )
    digest_remote: str = Field(description="SHA-256 of the replica's copy; empty for a dry run")
    drift: int = Field(description="Memories whose copies still differ after the run")
    dry_run: bool = Field(description="A dry run: judged and counted, nothing written")
    conflict_ids: list[str] = Field(description="Ids of the memories left alone (at most 100)")
    verification: VerificationOut | None = Field(
        description="The verification after the run; null for a dry run"
    )


_INGEST_RESPONSES: Responses = {
    400: {
        "model": ErrorOut,
        "description": "`invalid_payload`: not a JSON object, or fields invalid (details name "
        "each); nothing stored",
    },
    401: {
        "model": ErrorOut,
        "description": "Signature refused, nothing stored: `signature_missing`, "
        "`signature_malformed`, `signature_mismatch`, or `signature_not_configured` "
        "(MEMORY_WEBHOOK_TOKEN unset)",
    },
    409: {
        "model": IngestConflictOut,
        "description": "Changed here too: both versions and the last-write-wins resolution",
    },
    413: WRITE[413],
    503: {
        "model": IngestQueuedOut | ErrorOut,
        "description": "Stored and queued: the replica is unreachable or not configured. An "
        "ErrorOut (`store_unavailable`) instead means the local store failed: nothing stored",
    },
}

# The route reads the raw body itself (the signature covers its exact bytes), so FastAPI
# neither parses nor documents it: the body and the signature header are declared here.
_INGEST_OPENAPI: dict[str, Any] = {
    "parameters": [
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "`sha256=` and the hex HMAC-SHA256 of the raw body, keyed by "
            "MEMORY_WEBHOOK_TOKEN",
            "schema": {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
        }
    ],
    "requestBody": {
        "required": True,
        "content": {
            # A component because IngestConflictOut.remote (in the 409 answer) uses the model.
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{IngestMemory.__name__}"}
            }
        },
    },
}


@router.post(
    "/sync/memory",
    response_model=IngestOut,
    summary="Signed ingest of one memory (X-Webhook-Signature: sha256=<hex HMAC of the body>)",
    responses=_INGEST_RESPONSES,
    openapi_extra=_INGEST_OPENAPI,
)
async def ingest_memory(request: Request, service: ServiceDep) -> JSONResponse:
    """Store the memory locally first, then replicate it; 503 means stored and queued. Fields
    left out stay empty: unlike `POST /api/memories`, no project or session is filled in."""
    body = await request.body()
    token = request.app.state.settings.webhook_token
    try:
        verify(
            body, request.headers.get(SIGNATURE_HEADER), token.get_secret_value() if token else None
        )
    except SignatureError as exc:
        return error_response(401, f"signature_{exc.problem.value}", str(exc))
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return error_response(400, "invalid_payload", "the body is not valid JSON")
    if not isinstance(data, dict):
        return error_response(400, "invalid_payload", "the body must be a JSON object")
    try:
        result = await service.ingest(data)
    except InvalidInputError as exc:
        return error_response(400, "invalid_payload", str(exc), details=exc.problems)
    memory = result.memory
    state: dict[str, Any] = {
        "memory_id": str(memory.id),
        "sync_version": memory.sync_version,
        "remote_id": memory.remote_id,
        "synced_at": memory.synced_at.isoformat() if memory.synced_at else None,
        "embedding_generated": memory.embedding is not None,
    }
    if result.outcome == "conflict":
        assert result.local_before is not None
        return JSONResponse(
            {
                "success": False,
                "error": "conflict",
                "message": "this memory was changed here too; last-write-wins decided",
                **state,
                "local": result.local_before.model_dump(mode="json", exclude={"embedding"}),
                "remote": {**data},
                "resolution": {
                    "winner": result.conflict_winner,
                    "rule": "higher sync_version, then later updated_at, then larger event_id",
                    "kept": memory.model_dump(mode="json", exclude={"embedding"}),
                },
            },
            status_code=409,
        )
    if result.replica_error is not None:
        return JSONResponse(
            {
                "success": False,
                "error": "replica_unavailable",
                "message": f"stored locally and queued for the replica: {result.replica_error}",
                "queued": True,
                **state,
            },
            status_code=503,
        )
    return JSONResponse({"success": True, "outcome": result.outcome, **state})


@router.post(
    "/sync/trigger",
    status_code=202,
    response_model=TriggerResponse,
    summary="Sync now",
    responses={**ERRORS, **WRITE, **_NO_REPLICA},
    dependencies=_WRITE_SECURITY,
)
def trigger(service: ServiceDep, request: TriggerRequest | None = None) -> TriggerResponse:
    """Wake the replicator; named memories have their current version queued again."""
    ids = request.memory_ids if request else []
    requeued = service.requeue(ids) if ids else 0
    return TriggerResponse(accepted=True, requeued=requeued, queue_size=service.trigger_sync())


@router.get(
    "/sync/status",
    response_model=SyncStatusOut,
    summary="Replication health, queue and lag",
    responses=_NO_REPLICA,
)
async def sync_status(request: Request, service: ServiceDep) -> SyncStatusOut:
    """Connectivity of Neo4j, n8n and Ollama; queue, failures, last sync, lag in seconds."""
    from memvault.health import check_n8n_and_ollama

    report = await service.sync_status()
    n8n, ollama = await check_n8n_and_ollama(request.app.state.settings)
    return SyncStatusOut(
        healthy=report.healthy,
        neo4j_connected=report.neo4j_connected,
        n8n_connected=n8n,
        ollama_connected=ollama,
        queue_size=report.queue_size,
        pending_count=report.pending_count,
        held_count=report.held_count,
        failed_count=report.failed_count,
        last_sync=report.last_sync,
        last_error=report.last_error,
        replication_lag_seconds=report.replication_lag_s,
        oldest_pending_age_seconds=report.oldest_pending_age_s,
        neo4j_error=report.neo4j_error,
    )


@router.post(
    "/recovery/bootstrap",
    response_model=BootstrapOut,
    summary="Rebuild the local store from the replica",
    responses={
        **ERRORS,
        **WRITE,
        503: {
            "model": ErrorOut,
            "description": "No replica is configured, or it is unreachable (`replica_unavailable`)",
        },
    },
    dependencies=_WRITE_SECURITY,
)
async def bootstrap(service: ServiceDep, request: BootstrapRequest) -> BootstrapOut:
    """Additive and idempotent; ends with a verification of what it recovered."""
    from memvault.sync.recovery import RecoveryOptions

    report = await service.recover(
        RecoveryOptions(project_id=request.project_id, since=request.since, dry_run=request.dry_run)
    )
    return BootstrapOut.model_validate(report.as_dict())
