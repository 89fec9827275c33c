"""Fixtures shared by every test layer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memvault.config import Settings
from memvault.service import MemoryService
from memvault.store import LocalStore


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated to this test's folder; nothing is read from the developer's .env."""
    return Settings(_env_file=None, home=tmp_path / "home")  # type: ignore[call-arg]


@pytest.fixture
def store(settings: Settings) -> Iterator[LocalStore]:
    opened = LocalStore.open(settings.store_path)
    yield opened
    opened.close()


@pytest.fixture
def service(store: LocalStore) -> MemoryService:
    return MemoryService(store)
