"""Replication and recovery routes: the contract of the architecture page."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Security
from fastapi.responses import JSONResponse

from memvault.api.deps import ServiceDep
from memvault.api.errors import ErrorOut, error_response
from memvault.api.routes_memories import ERRORS, WRITE, Responses
from memvault.api.security import bearer_scheme
from memvault.api.sync_schemas import (
    BootstrapOut,
    BootstrapRequest,
    IngestConflictOut,
    IngestOut,
    IngestQueuedOut,
    SyncStatusOut,
    TriggerRequest,
    TriggerResponse,
)
from memvault.errors import InvalidInputError
from memvault.signatures import SIGNATURE_HEADER, SignatureError, verify
from memvault.sync.ingest import IngestMemory

router = APIRouter(prefix="/api", tags=["sync"])

SIGNED_PATHS = frozenset({"/api/sync/memory"})

_NO_REPLICA: Responses = {
    503: {"model": ErrorOut, "description": "No replica is configured (NEO4J_PASSWORD is unset)"}
}
_WRITE_SECURITY = [Security(bearer_scheme)]

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
