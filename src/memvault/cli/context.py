"""The CLI's composition root: settings from the environment (and --home), then the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from memvault.config import Settings, load_settings
from memvault.errors import InvalidInputError
from memvault.models import describe_errors
from memvault.runtime import open_service
from memvault.service import MemoryService


@dataclass
class CliContext:
    """What the root callback knows; builds settings and the service once, on first use."""

    home: Path | None = None
    _service: MemoryService | None = field(default=None, init=False)

    def settings(self, **overrides: Any) -> Settings:
        """Settings from the environment and .env, with --home and `overrides` on top."""
        if self.home is not None:
            overrides["home"] = self.home
        try:
            return load_settings(**overrides)
        except ValidationError as exc:
            raise InvalidInputError(describe_errors(exc)) from exc

    def service(self) -> MemoryService:
        """The MemoryService over the local store under MEMVAULT_HOME."""
        if self._service is None:
            self._service = open_service(self.settings())
        return self._service

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
