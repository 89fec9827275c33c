"""Real memvault API servers (uvicorn on 127.0.0.1) for the HTTP contract tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from memvault.api import build_server
from memvault.config import Settings

API_TOKEN = "contract-test-token-7f3a"
START_TIMEOUT = 20.0


@dataclass
class RunningServer:
    """A started server: where it listens, what it runs, the settings it was built from."""

    base_url: str
    settings: Settings
    server: uvicorn.Server
    app: FastAPI

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30.0, **kwargs)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def make_settings(home: Path, **overrides: object) -> Settings:
    """Settings isolated to `home` on a free port; host is left at its default on purpose.
    Embeddings are off: these tests are about the HTTP contract, and a background worker
    filling vectors in would change the memories they compare (tests/integration covers it)."""
    fields: dict[str, object] = {
        "project": None,
        "api_token": None,
        "log_level": "WARNING",
        "embeddings": "none",
    }
    fields.update(overrides)
    return Settings(_env_file=None, home=home, port=_free_port(), **fields)  # type: ignore[arg-type]


@contextmanager
def running_server(settings: Settings) -> Iterator[RunningServer]:
    """Start `build_server(settings)` in a thread; stop it (and its lifespan) on exit."""
    server = build_server(settings)
    thread = threading.Thread(target=server.run, name="memvault-api", daemon=True)
    thread.start()
    base_url = f"http://{settings.host}:{settings.port}"
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(base_url):
        if not thread.is_alive():
            raise RuntimeError(f"the API server on {base_url} exited during startup")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API server on {base_url} did not answer /api/health")
        time.sleep(0.05)
    app = server.config.app
    assert isinstance(app, FastAPI)
    try:
        yield RunningServer(base_url, settings, server, app)
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/api/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """An open server: no token configured."""
    with running_server(make_settings(tmp_path_factory.mktemp("api-open"))) as running:
        yield running


@pytest.fixture(scope="session")
def secured_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server started with MEMVAULT_API_TOKEN set."""
    home = tmp_path_factory.mktemp("api-secured")
    with running_server(make_settings(home, api_token=API_TOKEN)) as running:
        yield running


@pytest.fixture
def client(api: RunningServer) -> Iterator[httpx.Client]:
    with api.client() as opened:
        yield opened
