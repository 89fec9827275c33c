"""Composition: build the service from settings. Each entry point calls this once."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from memvault.config import Settings
from memvault.context.projects import detect_project
from memvault.embeddings.factory import create_embedder
from memvault.safety.detector import DetectionPolicy
from memvault.service import MemoryService
from memvault.store import LocalStore


def default_project(settings: Settings, cwd: Path | None = None) -> str:
    """MEMVAULT_PROJECT when set, else the project detected from the working folder."""
    return settings.project or detect_project(cwd or Path.cwd()).id


SCRATCH_STORE = Path(":memory:")


def detection_policy(settings: Settings) -> DetectionPolicy:
    """The destruction detector's thresholds from settings."""
    return DetectionPolicy(
        delete_burst_count=settings.delete_burst_count,
        window=timedelta(seconds=settings.delete_burst_seconds),
        mass_update_ratio=settings.mass_update_ratio,
        below_remote_ratio=settings.below_remote_ratio,
    )


def open_service(
    settings: Settings,
    *,
    with_sync: bool = False,
    store_path: Path | None = None,
    tool: str | None = None,
    cwd: Path | None = None,
) -> MemoryService:
    """Open the local store under MEMVAULT_HOME and wrap it in a MemoryService.

    With `with_sync` and a configured replica (NEO4J_PASSWORD set), the service also gets a
    SyncEngine; the driver connects lazily, so an unreachable replica never blocks opening.
    `store_path=SCRATCH_STORE` opens an in-memory store instead: for answering from the replica
    without creating an empty store file where a wiped one was. `tool` names the face (api,
    cli, mcp) in destruction alerts; `cwd` is the folder the default project is detected from
    (an agent's hook names its own).
    """
    store = LocalStore.open(store_path or settings.store_path)
    policy = detection_policy(settings)
    store.delete_delay = policy.window
    engine = None
    if with_sync and settings.neo4j_password is not None:
        from memvault.sync.engine import SyncEngine

        engine = SyncEngine.from_settings(store, settings)
    return MemoryService(
        store,
        default_project=default_project(settings, cwd),
        sync=engine,
        session_file=settings.session_file,
        idle_timeout=timedelta(minutes=settings.session_idle_minutes),
        embedder=create_embedder(settings),
        detection=policy,
        tool=tool,
    )
