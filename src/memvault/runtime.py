"""Composition: build the service from settings. Each entry point calls this once."""

from __future__ import annotations

from memvault.config import Settings
from memvault.service import MemoryService
from memvault.store import LocalStore


def open_service(settings: Settings) -> MemoryService:
    """Open the local store under MEMVAULT_HOME and wrap it in a MemoryService."""
    store = LocalStore.open(settings.store_path)
    return MemoryService(store, default_project=settings.project)
