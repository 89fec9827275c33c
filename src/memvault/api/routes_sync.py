"""Replication and recovery routes: the contract of the architecture page."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from memvault.api.deps import ServiceDep
from memvault.api.errors import error_response
from memvault.errors import InvalidInputError
from memvault.signatures import SIGNATURE_HEADER, SignatureError, verify

router = APIRouter(prefix="/api", tags=["sync"])

SIGNED_PATHS = frozenset({"/api/sync/memory"})


class TriggerRequest(BaseModel):
    """Optionally name memories whose current version must be sent again."""

    memory_ids: list[UUID] = Field(default_factory=list, max_length=10_000)


class TriggerResponse(BaseModel):
    accepted: bool
    requeued: int
    queue_size: int


class BootstrapRequest(BaseModel):
    project_id: str | None = None
    since: datetime | None = None
    dry_run: bool = False


@router.post(
    "/sync/memory",
    summary="Signed ingest of one memory (X-Webhook-Signature: sha256=<hex HMAC of the body>)",
    responses={400: {}, 401: {}, 409: {}, 503: {}},
)
async def ingest_memory(request: Request, service: ServiceDep) -> JSONResponse:
    """Store the memory locally first, then replicate it; 503 means stored and queued."""
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


@router.post("/sync/trigger", status_code=202, response_model=TriggerResponse, summary="Sync now")
def trigger(service: ServiceDep, request: TriggerRequest | None = None) -> TriggerResponse:
    """Wake the replicator; named memories have their current version queued again."""
    ids = request.memory_ids if request else []
    requeued = service.requeue(ids) if ids else 0
    return TriggerResponse(accepted=True, requeued=requeued, queue_size=service.trigger_sync())


@router.get("/sync/status", summary="Replication health, queue and lag")
async def sync_status(request: Request, service: ServiceDep) -> dict[str, Any]:
    """Connectivity of Neo4j, n8n and Ollama; queue, failures, last sync, lag in seconds."""
    from memvault.health import check_n8n_and_ollama

    report = await service.sync_status()
    n8n, ollama = await check_n8n_and_ollama(request.app.state.settings)
    return {
        "healthy": report.healthy,
        "neo4j_connected": report.neo4j_connected,
        "n8n_connected": n8n,
        "ollama_connected": ollama,
        "queue_size": report.queue_size,
        "pending_count": report.pending_count,
        "held_count": report.held_count,
        "failed_count": report.failed_count,
        "last_sync": report.last_sync.isoformat() if report.last_sync else None,
        "last_error": report.last_error,
        "replication_lag_seconds": report.replication_lag_s,
        "oldest_pending_age_seconds": report.oldest_pending_age_s,
        "neo4j_error": report.neo4j_error,
    }


@router.post("/recovery/bootstrap", summary="Rebuild the local store from the replica")
async def bootstrap(service: ServiceDep, request: BootstrapRequest) -> dict[str, Any]:
    """Additive and idempotent; ends with a verification of what it recovered."""
    from memvault.sync.recovery import RecoveryOptions

    report = await service.recover(
        RecoveryOptions(project_id=request.project_id, since=request.since, dry_run=request.dry_run)
    )
    return report.as_dict()
