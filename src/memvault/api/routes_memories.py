"""Memory routes: parse (the service's own models) → call MemoryService → render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Security
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from memvault.api.deps import ServiceDep
from memvault.api.errors import ErrorOut
from memvault.api.security import bearer_scheme
from memvault.models import (
    Memory,
    MemoryCreate,
    MemoryFilter,
    MemoryUpdate,
    SearchHit,
    SearchMode,
)

router = APIRouter(prefix="/api/memories", tags=["memories"])

Responses = dict[int | str, dict[str, Any]]

ERRORS: Responses = {
    422: {"model": ErrorOut, "description": "Invalid input; details name each field"}
}
_MISSING: Responses = {
    404: {"model": ErrorOut, "description": "No such memory (or it was forgotten)"}
}
WRITE: Responses = {
    401: {"model": ErrorOut, "description": "Token missing or wrong (when one is configured)"},
    413: {"model": ErrorOut, "description": "Request body over 1 MiB"},
}
_WRITE_SECURITY = [Security(bearer_scheme)]

MemoryId = Annotated[str, Path(description="The memory's UUID")]


class MemoryOut(Memory):
    """A memory as the API returns it: everything but the raw embedding vector."""

    # Vectors are hundreds of floats that no HTTP client reads; model and dimension stay.
    embedding: list[float] | None = Field(default=None, exclude=True)


class SearchHitOut(BaseModel):
    """A search result: the memory (with its project, session, agent and time), its fused
    relevance (higher is better) and its rank in the keyword and vector lists."""

    memory: MemoryOut
    score: float
    keyword_rank: int | None = None
    vector_rank: int | None = None


class SearchQuery(MemoryFilter):
    """The list filters plus the words to look for, and where to ask."""

    q: str = Field(description="Words to look for in content and tags")
    remote: bool = Field(default=False, description="Ask the replica, not the local store")
    mode: SearchMode = Field(
        default=SearchMode.HYBRID,
        description="hybrid: words and meaning fused by reciprocal rank (keyword only while no "
        "query vector can be had); keyword; semantic (needs embeddings)",
    )


@router.post(
    "",
    status_code=201,
    response_model=MemoryOut,
    summary="Remember: store a new memory",
    responses={**ERRORS, **WRITE},
    dependencies=_WRITE_SECURITY,
)
def remember(body: MemoryCreate, service: ServiceDep) -> Memory:
    """Store a memory locally and queue it for replication. Left out, `project_id` is the
    server's project, `session_id` that project's current session (started if none is open)
    and `source` the session's agent."""
    return service.remember(body)


@router.get(
    "",
    response_model=list[MemoryOut],
    summary="List memories, newest first",
    responses=ERRORS,
)
def list_memories(flt: Annotated[MemoryFilter, Query()], service: ServiceDep) -> list[Memory]:
    """Memories matching every given filter; `tags` may repeat and all must match."""
    return service.list(flt)


@router.get(
    "/search",
    response_model=list[SearchHitOut],
    summary="Search memories by keywords, best match first",
    responses=ERRORS,
)
async def search(query: Annotated[SearchQuery, Query()], service: ServiceDep) -> list[SearchHit]:
    """Recall over content and tags, with the same filters as the list. A plain query covers
    the server's project and global memories; `all_projects=true` asks across projects."""
    flt = MemoryFilter.model_validate(query.model_dump(exclude={"q", "remote", "mode"}))
    if query.remote:
        return await service.remote.search(query.q, flt, mode=query.mode)
    return await run_in_threadpool(lambda: service.search(query.q, flt, mode=query.mode))


@router.get(
    "/{memory_id}",
    response_model=MemoryOut,
    summary="Get one memory",
    responses={**ERRORS, **_MISSING},
)
def get_memory(
    memory_id: MemoryId,
    service: ServiceDep,
    include_deleted: Annotated[bool, Query(description="Also return a tombstone")] = False,
) -> Memory:
    """The memory with this id; forgotten memories only with `include_deleted=true`."""
    return service.get(memory_id, include_deleted=include_deleted)


@router.patch(
    "/{memory_id}",
    response_model=MemoryOut,
    summary="Update some fields of a memory",
    responses={**ERRORS, **_MISSING, **WRITE},
    dependencies=_WRITE_SECURITY,
)
def update_memory(memory_id: MemoryId, body: MemoryUpdate, service: ServiceDep) -> Memory:
    """Change the given fields; the others keep their value. Bumps `sync_version`."""
    return service.update(memory_id, body)


@router.delete(
    "/{memory_id}",
    response_model=MemoryOut,
    summary="Forget a memory (tombstone; the replica keeps its history)",
    responses={**ERRORS, **_MISSING, **WRITE},
    dependencies=_WRITE_SECURITY,
)
def forget(memory_id: MemoryId, service: ServiceDep) -> Memory:
    """Tombstone the memory and return it; it no longer appears in lists or searches."""
    return service.forget(memory_id)
