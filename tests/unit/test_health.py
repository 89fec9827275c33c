"""Stand-in for Ollama's documented /api/tags (also n8n's /healthz and an MCP endpoint) over HTTP.

Ollama and Archon cannot run here, so the doctor checks talk to a real HTTP server on 127.0.0.1
that answers as Ollama documents `GET /api/tags` ({"models": [{"name": "nomic-embed-text:latest",
...}]}), as n8n answers `GET /healthz`, and as an MCP endpoint answers a plain GET (an error status,
or an event stream that never ends). The store checks use real SQLite files.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from memvault import health
from memvault.config import Settings
from memvault.health import CheckResult
from memvault.service import MemoryService
from memvault.store.migrate import available_migrations


@dataclass
class StandIn:
    """What the stand-in serves, and the paths it was asked for."""

    url: str
    models: list[str] = field(default_factory=lambda: ["nomic-embed-text:latest"])
    requested: list[str] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requested.append(self.path)
            if self.path == "/api/tags":
                models = [
                    {"name": name, "model": name, "size": 274302450, "digest": "0a109f42"}
                    for name in state.models
                ]
                self._send(200, json.dumps({"models": models}).encode())
            elif self.path == "/healthz":
                self._send(200, b'{"status":"ok"}')
            elif self.path == "/sse":
                # An event stream that stays open until the test ends, as MCP's SSE GET does.
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                self.wfile.write(b": open\n\n")
                self.wfile.flush()
                state.release.wait(timeout=30)
            elif self.path == "/mcp":
                self._send(405, b"Method Not Allowed")
            else:
                self._send(404, b"not found")

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def standin() -> Iterator[StandIn]:
    state = StandIn(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # the port was free a moment ago and nothing listens now


def configured(tmp_path: Path, **overrides: object) -> Settings:
    """Settings with only what the test names; nothing from the environment's services."""
    values: dict[str, object] = {
        "home": tmp_path / "home",
        "neo4j_password": None,
        "ollama_url": closed_port_url(),
        "n8n_webhook_url": None,
        "archon_mcp_url": None,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def http_check(
    check: Callable[[Settings, httpx.AsyncClient], Awaitable[CheckResult]], settings: Settings
) -> CheckResult:
    async def run() -> CheckResult:
        async with httpx.AsyncClient(timeout=health.HTTP_TIMEOUT_S) as client:
            return await check(settings, client)

    return asyncio.run(run())


# -- local store ----------------------------------------------------------------------------


def test_store_is_ok_on_a_fresh_store_and_counts_memories(
    settings: Settings, service: MemoryService
) -> None:
    fresh = health.check_store(settings.store_path)
    assert fresh.ok
    assert fresh.required
    latest = max(m.version for m in available_migrations())
    assert f"schema {latest}/{latest}" in fresh.detail
    assert "integrity ok" in fresh.detail
    assert "0 memories" in fresh.detail

    service.remember({"content": "one"})
    forgotten = service.remember({"content": "two"})
    service.forget(forgotten.id)
    assert "1 memories" in health.check_store(settings.store_path).detail


def test_store_fails_on_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "memvault.db"
    path.write_bytes(b"this is not SQLite \x00\xff" * 512)

    result = health.check_store(path)

    assert not result.ok
    assert "not a database" in result.detail
    assert result.hint


def test_store_fails_on_a_missing_file_without_creating_it(tmp_path: Path) -> None:
    path = tmp_path / "gone" / "memvault.db"

    result = health.check_store(path)

    assert not result.ok
    assert "no store at" in result.detail
    assert not path.exists()


def test_store_fails_on_a_database_without_memvault_schema(tmp_path: Path) -> None:
    path = tmp_path / "memvault.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE unrelated (x)")

    result = health.check_store(path)

    assert not result.ok
    assert "no memvault schema" in result.detail


def test_store_fails_on_a_schema_newer_than_this_memvault(
    settings: Settings, service: MemoryService
) -> None:
    with sqlite3.connect(settings.store_path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', '')"
        )

    result = health.check_store(settings.store_path)

    assert not result.ok
    assert "schema version 999 is newer" in result.detail
    assert result.hint == "upgrade memvault"


# -- Ollama ---------------------------------------------------------------------------------


def test_ollama_is_ok_when_the_embedding_model_is_listed(tmp_path: Path, standin: StandIn) -> None:
    result = http_check(health.check_ollama, configured(tmp_path, ollama_url=standin.url + "/"))

    assert result.ok
    assert not result.required
    assert "nomic-embed-text available" in result.detail
    assert result.latency_ms is not None
    assert standin.requested == ["/api/tags"]


def test_ollama_is_not_ok_when_the_model_is_not_pulled(tmp_path: Path, standin: StandIn) -> None:
    standin.models = ["llama3.2:latest", "nomic-embed-text:v1.5"]

    result = http_check(health.check_ollama, configured(tmp_path, ollama_url=standin.url))

    assert not result.ok
    assert "nomic-embed-text is not pulled" in result.detail
    assert result.hint == "ollama pull nomic-embed-text"


def test_ollama_accepts_an_explicit_tag(tmp_path: Path, standin: StandIn) -> None:
    standin.models = ["nomic-embed-text:v1.5"]
    settings = configured(
        tmp_path, ollama_url=standin.url, ollama_embed_model="nomic-embed-text:v1.5"
    )

    assert http_check(health.check_ollama, settings).ok


def test_ollama_unreachable_says_why(tmp_path: Path) -> None:
    settings = configured(tmp_path)

    result = http_check(health.check_ollama, settings)

    assert not result.ok
    assert "unreachable" in result.detail
    assert settings.ollama_url in result.detail
    assert result.hint == "start Ollama or set OLLAMA_URL"


def test_ollama_check_fails_on_a_server_that_is_not_ollama(
    tmp_path: Path, standin: StandIn
) -> None:
    result = http_check(health.check_ollama, configured(tmp_path, ollama_url=standin.url + "/x"))

    assert not result.ok
    assert "answered HTTP 404" in result.detail


# -- n8n and Archon -------------------------------------------------------------------------


def test_n8n_and_archon_not_configured_are_reported_as_such(tmp_path: Path) -> None:
    settings = configured(tmp_path)

    for check, variable in (
        (health.check_n8n, "N8N_WEBHOOK_URL"),
        (health.check_archon, "ARCHON_MCP_URL"),
    ):
        result = http_check(check, settings)
        assert result.ok
        assert not result.required
        assert result.detail == f"not configured ({variable} is unset)"


def test_n8n_is_checked_at_the_healthz_of_the_webhook_origin(
    tmp_path: Path, standin: StandIn
) -> None:
    settings = configured(tmp_path, n8n_webhook_url=f"{standin.url}/webhook/memvault-events")

    result = http_check(health.check_n8n, settings)

    assert result.ok
    assert standin.requested == ["/healthz"]


def test_n8n_unreachable_is_not_ok(tmp_path: Path) -> None:
    settings = configured(tmp_path, n8n_webhook_url=f"{closed_port_url()}/webhook/x")

    result = http_check(health.check_n8n, settings)

    assert not result.ok
    assert "unreachable" in result.detail


def test_archon_any_http_status_means_reachable(tmp_path: Path, standin: StandIn) -> None:
    result = http_check(
        health.check_archon, configured(tmp_path, archon_mcp_url=f"{standin.url}/mcp")
    )

    assert result.ok
    assert "HTTP 405" in result.detail


def test_archon_event_stream_is_not_read_to_its_end(tmp_path: Path, standin: StandIn) -> None:
    # Reading the body would wait out the read timeout and report a failure.
    result = http_check(
        health.check_archon, configured(tmp_path, archon_mcp_url=f"{standin.url}/sse")
    )

    assert result.ok
    assert "HTTP 200" in result.detail


# -- Neo4j and the whole run ------------------------------------------------------------------


def test_neo4j_without_a_password_says_so(tmp_path: Path) -> None:
    result = asyncio.run(health.check_neo4j(configured(tmp_path)))

    assert not result.ok
    assert result.required
    assert result.detail == "NEO4J_PASSWORD is not set"


def test_run_checks_covers_every_dependency_and_requires_store_and_neo4j(
    settings: Settings, service: MemoryService, tmp_path: Path
) -> None:
    results = health.run_checks(configured(tmp_path, home=settings.home))

    assert [(r.name, r.required) for r in results] == [
        ("local store", True),
        ("neo4j", True),
        ("ollama", False),
        ("embeddings", False),
        ("n8n", False),
        ("archon", False),
    ]
    assert results[0].ok
    assert not health.all_required_ok(results)  # no Neo4j password
    assert health.all_required_ok([results[0], results[2]])  # a failed optional check is fine


# -- embeddings -------------------------------------------------------------------------------


def test_embeddings_check_with_the_local_model_names_model_and_dimension(tmp_path: Path) -> None:
    result = health.check_embeddings(configured(tmp_path, embeddings="local"))

    assert result.ok
    assert not result.required
    assert "all-MiniLM-L6-v2-int8" in result.detail
    assert "384 dimensions" in result.detail


def test_embeddings_check_with_none_says_recall_is_keyword_only(tmp_path: Path) -> None:
    result = health.check_embeddings(configured(tmp_path, embeddings="none"))

    assert result.ok
    assert "keyword-only" in result.detail


def test_embeddings_check_with_ollama_up_and_down(tmp_path: Path) -> None:
    from ollama_standin import OllamaStandin  # stand-in for Ollama's embed routes (first line)

    with OllamaStandin() as ollama:
        settings = configured(tmp_path, embeddings="ollama", ollama_url=ollama.url)
        up = health.check_embeddings(settings)
        ollama.stop()
        down = health.check_embeddings(settings)

    assert up.ok
    assert "ollama · nomic-embed-text · 768 dimensions" in up.detail
    assert not down.ok
    assert ollama.url in down.detail
    assert down.hint is not None
    assert "Ollama" in down.hint


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:port", "invalid port"),
        ("not a url", "is not an http(s) URL"),
        ("localhost:11434", "is not an http(s) URL"),
    ],
)
def test_a_malformed_ollama_url_is_a_settings_error(tmp_path: Path, url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)) as caught:
        configured(tmp_path, embeddings="ollama", ollama_url=url)
    assert caught.value.errors()[0]["loc"] == ("ollama_url",)  # OLLAMA_URL when from the env


@pytest.mark.parametrize("url", ["http://ollama\n:11434"])
def test_embeddings_check_reports_a_malformed_ollama_url_without_raising(
    tmp_path: Path, url: str
) -> None:
    result = health.check_embeddings(configured(tmp_path, embeddings="ollama", ollama_url=url))

    assert not result.ok
    assert "OLLAMA_URL" in f"{result.detail} {result.hint}"
