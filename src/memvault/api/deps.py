"""What routes receive from the composition root."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from memvault.service import MemoryService


def get_service(request: Request) -> MemoryService:
    """The MemoryService that `create_app` put on the application."""
    service: MemoryService = request.app.state.service
    return service


ServiceDep = Annotated[MemoryService, Depends(get_service)]
