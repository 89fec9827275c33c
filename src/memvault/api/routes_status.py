"""Health and counts."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from memvault import __version__
from memvault.api.deps import ServiceDep
from memvault.models import Stats

router = APIRouter(prefix="/api", tags=["status"])


class Health(BaseModel):
    """The server answers; which memvault it is."""

    status: str
    version: str


@router.get("/health", response_model=Health, summary="Is the server up")
def health() -> Health:
    """Always `ok` while the server answers requests."""
    return Health(status="ok", version=__version__)


@router.get("/stats", response_model=Stats, summary="Counts over the local store")
def stats(service: ServiceDep) -> Stats:
    """Live and forgotten memories, by type and project, and changes waiting to replicate."""
    return service.stats()
