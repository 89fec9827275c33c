"""Session and project routes: where memories come from, for agents and people."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Security
from fastapi.concurrency import run_in_threadpool
from pydantic import Field

from memvault.api.deps import ServiceDep
from memvault.api.errors import ErrorOut
from memvault.api.routes_memories import ERRORS, WRITE, MemoryOut, Responses
from memvault.api.security import bearer_scheme
from memvault.models import (
    ProjectSummary,
    Session,
    SessionContext,
    SessionDetail,
    SessionEnd,
    SessionFilter,
    SessionStart,
)

router = APIRouter(prefix="/api/memory", tags=["sessions and projects"])

SessionId = Annotated[str, Path(description="A session id, or `current` / `previous`")]
Remote = Annotated[bool, Query(description="Answer from the replica instead of the local store")]
ProjectOfRef = Annotated[
    str | None,
    Query(description="Project whose `current` / `previous` session is meant (default: the "
          "server's project)"),
]  # fmt: skip
_MISSING: Responses = {404: {"model": ErrorOut, "description": "No such session"}}
_UNAVAILABLE: Responses = {503: {"model": ErrorOut, "description": "Replica unreachable"}}


class SessionDetailOut(SessionDetail):
    """A session with its memories (without raw embedding vectors)."""

    memories: list[MemoryOut]  # type: ignore[assignment]


class SessionsQuery(SessionFilter):
    """Session filters, and where to ask."""

    remote: bool = Field(
        default=False, description="Answer from the replica instead of the local store"
    )


@router.get(
    "/sessions",
    response_model=list[Session],
    summary="List sessions, most recently started first",
    responses={**ERRORS, **_UNAVAILABLE},
)
async def list_sessions(
    query: Annotated[SessionsQuery, Query()], service: ServiceDep
) -> list[Session]:
    """Filters: project, agent, since/until (bounding the start)."""
    flt = SessionFilter.model_validate(query.model_dump(exclude={"remote"}))
    if query.remote:
        return await service.remote.sessions(flt)
    return await run_in_threadpool(service.list_sessions, flt)


@router.post(
    "/sessions",
    status_code=201,
    response_model=Session,
    summary="Start a session (or resume the agent's one by id)",
    responses={**ERRORS, **WRITE},
    dependencies=[Security(bearer_scheme)],
)
def start_session(service: ServiceDep, body: SessionStart | None = None) -> Session:
    """It becomes the current session: writes that name no session join it. Every field is
    optional, and so is the body."""
    return service.start_session(body)


class SessionContextOut(SessionContext):
    """The briefing for a new session (without raw embedding vectors)."""

    previous_memories: list[MemoryOut]  # type: ignore[assignment]
    key_memories: list[MemoryOut]  # type: ignore[assignment]


@router.get(
    "/context",
    response_model=SessionContextOut,
    summary="What a new session should know: the previous session and key memories",
    responses=ERRORS,
)
def session_context(
    service: ServiceDep,
    project_id: Annotated[
        str | None, Query(description="The project (default: the server's project)")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Memories per list")] = 10,
) -> SessionContext:
    """The project's previous session (its summary and most important memories), the
    project's most important recent memories, and how many destruction alerts are open."""
    return service.session_context(project_id, limit=limit)


@router.get(
    "/sessions/{session_id}",
    response_model=SessionDetailOut,
    summary="A session and its memories, oldest first",
    responses={**ERRORS, **_MISSING, **_UNAVAILABLE},
)
async def get_session(
    session_id: SessionId,
    service: ServiceDep,
    project_id: ProjectOfRef = None,
    remote: Remote = False,
) -> SessionDetail:
    """Every field of the session (start, end, agent, summary, chain) and its live memories."""
    if remote:
        return await service.remote.session_detail(session_id, project_id)
    return await run_in_threadpool(service.session_detail, session_id, project_id)


@router.post(
    "/sessions/{session_id}/end",
    response_model=Session,
    summary="End a session, optionally with a summary",
    responses={**ERRORS, **_MISSING, **WRITE},
    dependencies=[Security(bearer_scheme)],
)
def end_session(
    session_id: SessionId,
    service: ServiceDep,
    project_id: ProjectOfRef = None,
    body: SessionEnd | None = None,
) -> Session:
    """Ending twice is harmless; a summary given later replaces the earlier one."""
    return service.end_session(session_id, body, project_id=project_id)


@router.get(
    "/projects",
    response_model=list[ProjectSummary],
    summary="Projects with memory and session counts",
    responses={**ERRORS, **_UNAVAILABLE},
)
async def list_projects(service: ServiceDep, remote: Remote = False) -> list[ProjectSummary]:
    """Most recently active first."""
    if remote:
        return await service.remote.projects()
    return await run_in_threadpool(service.projects)
