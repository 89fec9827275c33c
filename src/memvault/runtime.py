"""Composition: build the service from settings. Each entry point calls this once."""

from __future__ import annotations

from memvault.config import Settings
from memvault.service import MemoryService
from memvault.store import LocalStore


def open_service(settings: Settings, *, with_sync: bool = False) -> MemoryService:
    """Open the local store under MEMVAULT_HOME and wrap it in a MemoryService.

    With `with_sync` and a configured replica (NEO4J_PASSWORD set), the service also gets a
    SyncEngine; the driver connects lazily, so an unreachable replica never blocks opening.
    """
    store = LocalStore.open(settings.store_path)
    engine = None
    if with_sync and settings.neo4j_password is not None:
        from memvault.sync.engine import SyncEngine

        engine = SyncEngine.from_settings(store, settings)
    return MemoryService(store, default_project=settings.project, sync=engine)
