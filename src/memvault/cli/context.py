"""The CLI's composition root: settings from the environment (and --home), then the service."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError

from memvault import log_destination
from memvault.config import Settings, load_settings
from memvault.errors import InvalidInputError
from memvault.models import describe_errors
from memvault.runtime import SCRATCH_STORE, open_service
from memvault.service import MemoryService

T = TypeVar("T")


@dataclass
class CliContext:
    """What the root callback knows; builds settings and the service once, on first use."""

    home: Path | None = None
    _service: MemoryService | None = field(default=None, init=False)
    # The local store is missing and the replica answers: do not create an empty store file.
    _scratch: bool = field(default=False, init=False)

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the environment and .env, with --home and `overrides` on top."""
        if self.home is not None:
            overrides["home"] = self.home
        try:
            return load_settings(**overrides)
        except ValidationError as exc:
            raise InvalidInputError(describe_errors(exc)) from exc

    def service(self, *, with_sync: bool = False) -> MemoryService:
        """The MemoryService over the local store under MEMVAULT_HOME (and the replica)."""
        if self._service is None or (with_sync and self._service.sync is None):
            if self._service is not None:
                self._service.store.close()
            settings = self.settings()
            log_destination.choose(settings.log_level, settings.log_file)
            self._service = open_service(
                settings,
                with_sync=with_sync,
                store_path=SCRATCH_STORE if self._scratch else None,
                tool="cli",
            )
        return self._service

    def use_remote(self, asked: bool) -> bool:
        """Answer from the replica: when asked, or when the local store is gone and a replica
        is configured (a wiped machine can still ask what earlier sessions decided)."""
        if asked:
            return True
        settings = self.settings()
        if settings.store_path.exists() or settings.neo4j_password is None:
            return False
        typer.echo(
            f"note: no local store at {settings.store_path}; answering from the replica "
            "(`memvault recover` rebuilds the local store)",
            err=True,
        )
        self._scratch = True
        return True

    def answer(
        self,
        remote: bool,
        local: Callable[[MemoryService], T],
        replica: Callable[[MemoryService], Awaitable[T]],
    ) -> T:
        """`local(service)`, or `replica(service)` when `use_remote(remote)` says so."""
        if self.use_remote(remote):
            return self.run_with_replica(replica)
        return local(self.service())

    def logging_settings(self) -> Settings:
        """Settings, with structured logging configured from them now (MEMVAULT_LOG_LEVEL,
        MEMVAULT_LOG_FILE; stderr by default): for commands whose stdout is owned by --json,
        an agent or MCP, and whose logs come from more than sync lines."""
        from memvault.sync.audit import configure_logging

        settings = self.settings()
        configure_logging(settings.log_level, file=settings.log_file)
        return settings

    def run_with_replica(self, work: Callable[[MemoryService], Awaitable[T]]) -> T:
        """Run async `work` against the service with its replica, closing the driver after."""
        self.logging_settings()
        service = self.service(with_sync=True)

        async def main() -> T:
            try:
                return await work(service)
            finally:
                if service.sync is not None:
                    await service.sync.close()

        return asyncio.run(main())

    def close(self) -> None:
        """Close the store if a command opened it."""
        if self._service is not None:
            self._service.store.close()
            self._service = None


def cli_context(ctx: typer.Context) -> CliContext:
    """The CliContext the root callback put on the click context."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj
