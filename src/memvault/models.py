"""The vocabulary: memories, their sync bookkeeping, sessions and projects.

Validation lives here, once; every face (API, CLI, MCP, hooks) gets the same rules and the same
messages, each naming the field and the rule it broke.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

MAX_CONTENT_CHARS = 50_000
MAX_TAGS = 50
MAX_TAG_CHARS = 64


class MemoryType(StrEnum):
    """What kind of knowledge a memory holds."""

    EPISODIC = "episodic"  # something that happened
    SEMANTIC = "semantic"  # a fact
    PROCEDURAL = "procedural"  # how to do something
    STRATEGIC = "strategic"  # a decision or direction


class Scope(StrEnum):
    """Where a memory surfaces: in its own project, or everywhere."""

    PROJECT = "project"
    GLOBAL = "global"


class SearchMode(StrEnum):
    """How recall ranks: by words, by meaning (embeddings), or both fused (the default)."""

    KEYWORD = "keyword"
    SEMANTIC = "semantic"
    HYBRID = "hybrid"


class SyncStatus(StrEnum):
    PENDING = "pending"
    SYNCED = "synced"
    FAILED = "failed"
    QUEUED = "queued"
    CONFLICT = "conflict"


class SyncDirection(StrEnum):
    LOCAL_TO_REMOTE = "local_to_remote"
    REMOTE_TO_LOCAL = "remote_to_local"


class SyncResult(StrEnum):
    SUCCESS = "success"
    FAILED = "failed"
    PARTIAL = "partial"
    QUEUED = "queued"


class Operation(StrEnum):
    """The kind of change an outbox entry carries."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone offset, e.g. 2026-01-31T12:00:00Z")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_aware_utc)]


def content_hash(content: str) -> str:
    """SHA-256 of the content's UTF-8 bytes, hex; used to compare local and remote copies."""
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def checked_hash(stored: str, content: str) -> str:
    """`stored` when it is the hash of `content`; else `damaged:<actual hash>`, so a copy whose
    text and recorded hash disagree never compares equal to a sound copy."""
    actual = content_hash(content)
    return stored if stored == actual else f"damaged:{actual}"


def _normalise_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().lower()
        if not tag:
            raise ValueError("tags must not be empty strings")
        if len(tag) > MAX_TAG_CHARS:
            raise ValueError(f"each tag must be at most {MAX_TAG_CHARS} characters")
        seen.setdefault(tag, None)
    if len(seen) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags are allowed")
    return list(seen)


Content = Annotated[str, Field(min_length=1, max_length=MAX_CONTENT_CHARS)]
Importance = Annotated[float, Field(ge=0.0, le=1.0)]
Tags = Annotated[list[str], AfterValidator(_normalise_tags)]
Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s/\\]+$")]
# Project ids may hold slashes: a detected project is its normalised remote, `github.com/org/repo`.
ProjectId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\s\\]+$")]


class StrictModel(BaseModel):
    """Input models: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class MemoryCreate(StrictModel):
    """What a caller supplies to store a new memory."""

    content: Content = Field(description="The text to remember; more than whitespace")
    memory_type: MemoryType = Field(
        default=MemoryType.SEMANTIC,
        description="episodic (happened), semantic (a fact), procedural (how to), strategic "
        "(a decision)",
    )
    importance: Importance = Field(
        default=0.5, description="How much it matters, from 0 (little) to 1 (most)"
    )
    tags: Tags = Field(
        default_factory=list,
        description="Labels, stored trimmed, lower-cased and without repeats (at most 50, 64 "
        "characters each)",
    )
    project_id: ProjectId | None = Field(default=None, description="The project it belongs to")
    session_id: Identifier | None = Field(default=None, description="The session it belongs to")
    task_id: Identifier | None = Field(default=None, description="The task it belongs to, if any")
    scope: Scope = Field(
        default=Scope.PROJECT,
        description="project: surfaces in its own project; global: in every project",
    )
    source: str | None = Field(
        default=None,
        max_length=200,
        description="Who wrote it, e.g. the agent's name",
    )

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("content must contain more than whitespace")
        return value


class MemoryUpdate(StrictModel):
    """A partial change to a memory; fields left out keep their value."""

    content: Content | None = Field(default=None, description="New text; not null")
    memory_type: MemoryType | None = Field(default=None, description="New kind; not null")
    importance: Importance | None = Field(
        default=None, description="New importance, from 0 to 1; not null"
    )
    tags: Tags | None = Field(
        default=None, description="New tags, replacing all the old ones ([] clears); not null"
    )
    task_id: Identifier | None = Field(
        default=None, description="New task; null detaches the memory from its task"
    )
    scope: Scope | None = Field(default=None, description="New scope; not null")

    @field_validator("content", "memory_type", "importance", "tags", "scope", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # None would mean "keep" for a left-out field but "erase" for an explicit null; these
        # fields cannot be erased, so an explicit null is an input error, not a crash later.
        if value is None:
            raise ValueError("must not be null; leave the field out to keep its value")
        return value

    @field_validator("content")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("content must contain more than whitespace")
        return value

    @model_validator(mode="after")
    def _changes_something(self) -> MemoryUpdate:
        if not self.model_fields_set:
            raise ValueError("an update must set at least one field")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields the caller set, by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Memory(BaseModel):
    """A stored memory with its sync bookkeeping."""

    model_config = ConfigDict(extra="forbid")

    id: UUID = Field(description="The memory's UUID")
    content: Content = Field(description="The remembered text")
    memory_type: MemoryType = Field(
        description="episodic (happened), semantic (a fact), procedural (how to), strategic "
        "(a decision)"
    )
    importance: Importance = Field(
        default=0.5, description="How much it matters, from 0 (little) to 1 (most)"
    )
    tags: Tags = Field(default_factory=list, description="Labels, lower-case, without repeats")
    project_id: str | None = Field(default=None, description="The project it belongs to")
    session_id: str | None = Field(default=None, description="The session that stored it")
    task_id: str | None = Field(default=None, description="The task it belongs to, if any")
    scope: Scope = Field(
        default=Scope.PROJECT,
        description="project: surfaces in its own project; global: in every project",
    )
    source: str | None = Field(default=None, description="Who wrote it, e.g. the agent's name")
    created_at: UtcDatetime = Field(description="When it was first stored (UTC)")
    updated_at: UtcDatetime = Field(description="When its current version was made (UTC)")
    deleted_at: UtcDatetime | None = Field(
        default=None, description="When it was forgotten; null while it is live"
    )
    sync_version: int = Field(
        default=1, ge=1, description="Its version: 1 when stored, one more with every change"
    )
    event_id: UUID | None = Field(
        default=None, description="The id of the change that produced this version"
    )
    sync_status: SyncStatus = Field(
        default=SyncStatus.PENDING, description="How far this version has got to the replica"
    )
    synced_at: UtcDatetime | None = Field(
        default=None, description="When it last reached the replica; null until then"
    )
    remote_id: str | None = Field(
        default=None, description="Its id on the replica; null until it has been replicated"
    )
    content_hash: str = Field(description="SHA-256 of the content's UTF-8 bytes, hex")
    embedding: list[float] | None = Field(
        default=None, description="The content's vector for semantic search; null until made"
    )
    embedding_model: str | None = Field(
        default=None, description="The model that made the embedding; null without one"
    )
    embedding_dim: int | None = Field(
        default=None, ge=1, description="The embedding's length; null without one"
    )

    @model_validator(mode="after")
    def _embedding_consistent(self) -> Memory:
        if self.embedding is not None and self.embedding_dim != len(self.embedding):
            raise ValueError("embedding_dim must equal the length of embedding")
        return self

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def version_key(self) -> tuple[int, datetime, str]:
        """Last-write-wins order: higher sync_version, then later updated_at, then event id.

        Every replica compares versions by this key, so all of them pick the same winner.
        """
        return (self.sync_version, self.updated_at, str(self.event_id or ""))


class DateRange(StrictModel):
    """`since`/`until` bounds (inclusive) shared by every query."""

    since: UtcDatetime | None = Field(
        default=None,
        description="From this moment on, inclusive (ISO 8601 with a timezone offset); bounds "
        "a memory's created_at, a session's start",
    )
    until: UtcDatetime | None = Field(
        default=None,
        description="Up to this moment, inclusive (ISO 8601 with a timezone offset); not "
        "before since",
    )

    @field_validator("until")
    @classmethod
    def _range_ordered(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        # A field validator (not a model one) so the error names the field to fix.
        since = info.data.get("since")
        if value is not None and since is not None and since > value:
            raise ValueError("until must not be earlier than since")
        return value


class MemoryFilter(DateRange):
    """Filters shared by list and search; every one is optional. Dates bound `created_at`.

    `project_id` means that project's memories plus global ones; `all_projects` lifts the
    project restriction (a cross-project query) while `project_id` still names the asker.
    """

    project_id: str | None = Field(
        default=None,
        description="This project's memories and global ones (default: the server's project)",
    )
    all_projects: bool = Field(
        default=False, description="Every project's memories; project_id then names the asker"
    )
    session_id: str | None = Field(
        default=None, description="Only this session's memories; a session id, current or previous"
    )
    memory_type: MemoryType | None = Field(default=None, description="Only memories of this kind")
    tags: Tags = Field(
        default_factory=list,
        description="Only memories with every one of these tags (repeat the parameter)",
    )
    include_deleted: bool = Field(default=False, description="Also forgotten memories (tombstones)")
    limit: int = Field(default=20, ge=1, le=1000, description="At most this many memories")


class SearchHit(BaseModel):
    """A memory found by a search, with its relevance score (higher is better) and its rank in
    each list that found it (keyword, vector); hybrid search fuses the two by reciprocal rank."""

    memory: Memory
    score: float
    keyword_rank: int | None = None
    vector_rank: int | None = None


class SyncQueueItem(BaseModel):
    """One outbox entry: a change waiting to reach the replica."""

    id: int
    event_id: UUID
    memory_id: UUID
    operation: Operation
    sync_version: int = Field(ge=1)
    payload: dict[str, Any]
    created_at: UtcDatetime
    retry_count: int = Field(default=0, ge=0)
    next_retry_at: UtcDatetime | None = None
    last_error: str | None = None
    held_reason: str | None = None  # set while quarantined: kept, not sent


class SyncEvent(BaseModel):
    """The audit record of one sync operation (invariant 7)."""

    id: UUID
    direction: SyncDirection
    result: SyncResult
    count: int = Field(ge=0)
    memory_ids: list[UUID] = Field(default_factory=list)
    duration_ms: float = Field(ge=0)
    retries: int = Field(default=0, ge=0)
    error: str | None = None
    created_at: UtcDatetime


class Session(BaseModel):
    """A working session of an agent (or a person) in one project."""

    id: Identifier = Field(description="The session id: the agent's own, or one memvault made")
    project_id: str | None = Field(default=None, description="The project it works in")
    started_at: UtcDatetime = Field(description="When it started (UTC)")
    ended_at: UtcDatetime | None = Field(
        default=None, description="When it ended; null while it is open"
    )
    summary: str | None = Field(default=None, description="What it did, given when it ended")
    memory_count: int = Field(default=0, ge=0, description="Memories stored in it")
    agent: str | None = Field(default=None, description="Who works in it, e.g. claude-code")
    last_active_at: UtcDatetime | None = Field(
        default=None, description="Its last activity; an idle open session is ended after a while"
    )
    previous_id: str | None = Field(
        default=None, description="The project's session before this one"
    )

    @property
    def is_open(self) -> bool:
        return self.ended_at is None


class SessionStart(StrictModel):
    """Start (or resume) a session; every field is optional."""

    session_id: Identifier | None = Field(
        default=None, description="The agent's own session id; a new one is made when absent"
    )
    project_id: ProjectId | None = Field(
        default=None, description="The project it works in (default: the server's project)"
    )
    agent: str | None = Field(
        default=None, max_length=200, description="Who works in it, e.g. claude-code"
    )


class SessionEnd(StrictModel):
    """End a session, optionally with a summary of what it did."""

    summary: str | None = Field(default=None, max_length=MAX_CONTENT_CHARS)


class SessionFilter(DateRange):
    """Filters for listing sessions: a session matches a date range when it started in it."""

    project_id: str | None = Field(
        default=None, description="Only this project's sessions (default: every project)"
    )
    agent: str | None = Field(default=None, description="Only this agent's sessions")
    limit: int = Field(default=50, ge=1, le=1000, description="At most this many sessions")


class SessionDetail(BaseModel):
    """A session with its memories (oldest first)."""

    session: Session
    memories: list[Memory]


class SessionContext(BaseModel):
    """What a new session should know: the project's previous session (its summary and key
    memories) and the project's most important recent memories."""

    project_id: str | None
    current: Session | None = None
    previous: Session | None = None
    previous_memories: list[Memory] = Field(
        default_factory=list, description="The previous session's memories, most important first"
    )
    key_memories: list[Memory] = Field(
        default_factory=list,
        description="The project's most important recent memories (and global ones), beyond "
        "the previous session's",
    )
    open_alerts: int = Field(default=0, description="Open destruction alerts: a person decides")


class Project(BaseModel):
    id: ProjectId = Field(
        description="The project id: a name, or the normalised git remote "
        "(github.com/org/repo) of a detected project"
    )
    name: str = Field(description="Its display name (default: the id)")
    description: str | None = Field(default=None, description="What it is, free text")
    created_at: UtcDatetime = Field(description="When memvault first saw it (UTC)")


class ProjectSummary(Project):
    """A project with what it holds: live memories, sessions, and when it was last active."""

    memory_count: int = Field(default=0, description="Live memories in it")
    session_count: int = Field(default=0, description="Sessions in it")
    last_active_at: UtcDatetime | None = Field(
        default=None, description="When one of its memories last changed; null without any"
    )


class AlertKind(StrEnum):
    """What the destruction detector saw."""

    DELETE_BURST = "delete_burst"  # more deletes within the window than the threshold
    MASS_UPDATE = "mass_update"  # updates touching more than a share of all memories
    STORE_VANISHED = "store_vanished"  # the store file is gone
    STORE_REPLACED = "store_replaced"  # a different file sits at the store's path
    STORE_EMPTIED = "store_emptied"  # the store's memories were removed from outside
    TABLES_DROPPED = "tables_dropped"  # the store's tables are gone
    BELOW_REMOTE = "below_remote"  # far fewer memories here than on the replica


class AlertState(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"  # a person let the held deletes replicate
    REVERTED = "reverted"  # a person restored the held memories
    RESOLVED = "resolved"  # memvault repaired it (e.g. recovered a wiped store)


class Alert(BaseModel):
    """One firing of the destruction detector."""

    id: UUID = Field(description="The alert's UUID")
    kind: AlertKind = Field(description="What the detector saw")
    state: AlertState = Field(
        default=AlertState.OPEN, description="open until a person decides, or memvault repairs it"
    )
    evidence: dict[str, Any] = Field(
        default_factory=dict, description="What fired it: counts, thresholds, memory ids"
    )
    agent: str | None = Field(default=None, description="The agent behind the change, if known")
    session_id: str | None = Field(
        default=None, description="The session behind the change, if known"
    )
    tool: str | None = Field(
        default=None, description="The face the change came through: api, cli or mcp"
    )
    created_at: UtcDatetime = Field(description="When it fired (UTC)")
    closed_at: UtcDatetime | None = Field(
        default=None, description="When it left the open state; null while open"
    )


class Stats(BaseModel):
    """Counts over the local store."""

    total: int = Field(description="Live memories")
    deleted: int = Field(description="Forgotten memories (tombstones)")
    by_type: dict[str, int] = Field(description="Live memories per memory_type")
    by_project: dict[str, int] = Field(
        description='Live memories per project id ("" for memories without a project)'
    )
    pending_sync: int = Field(description="Changes in the outbox, waiting for the replica")
    last_write_at: datetime | None = Field(
        description="When a memory last changed (the latest updated_at); null when empty"
    )


def describe_errors(error: ValidationError) -> list[dict[str, str]]:
    """Field-level messages for a validation error: `[{"field": "importance", "message": …}]`."""
    described = []
    for item in error.errors(include_url=False):
        field = ".".join(str(part) for part in item["loc"]) or "body"
        message = item["msg"].removeprefix("Value error, ")
        described.append({"field": field, "message": message})
    return described
