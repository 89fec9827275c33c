"""The sync routes' request and response bodies, as the OpenAPI document (and docs/api.md)
describes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from memvault.api.routes_memories import MemoryOut
from memvault.models import UtcDatetime
from memvault.sync.ingest import IngestMemory

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
    since: UtcDatetime | None = Field(
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
