"""The checks behind `memvault doctor`: is each part memvault relies on there and usable?

Each check returns a CheckResult and never raises; rendering is the face's job. The store is
inspected without being created or migrated, so a vanished store is reported, not replaced.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from memvault.config import Settings
from memvault.errors import RejectedError, UnavailableError
from memvault.store.migrate import applied_versions, available_migrations

HTTP_TIMEOUT_S = 2.0
NEO4J_TIMEOUT_S = 4.0  # a reachable server answers in milliseconds; doctor must not hang
NEO4J_START_HINT = "start it with tools/neo4j-server/neo4j-server start"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check. `required` checks decide doctor's exit code."""

    name: str
    ok: bool
    required: bool
    detail: str
    hint: str | None = None
    latency_ms: float | None = None


def all_required_ok(results: list[CheckResult]) -> bool:
    """True when every required check passed (optional ones may fail)."""
    return all(r.ok for r in results if r.required)


def run_checks(settings: Settings) -> list[CheckResult]:
    """Run every check (from synchronous code): see `check_all`."""
    return asyncio.run(check_all(settings))


async def check_all(settings: Settings) -> list[CheckResult]:
    """Every check, concurrently: the store, Neo4j, Ollama, embeddings, n8n, Archon, in that
    order."""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
        return list(
            await asyncio.gather(
                asyncio.to_thread(check_store, settings.store_path),
                check_neo4j(settings),
                check_ollama(settings, client),
                asyncio.to_thread(check_embeddings, settings),
                check_n8n(settings, client),
                check_archon(settings, client),
            )
        )


# -- local store ----------------------------------------------------------------------------


def check_store(path: Path) -> CheckResult:
    """Open the store file without creating it; check schema version, integrity and count."""
    started = time.perf_counter()

    def result(ok: bool, detail: str, hint: str | None = None) -> CheckResult:
        return CheckResult("local store", ok, True, detail, hint, _since(started))

    if not path.exists():
        return result(
            False,
            f"no store at {path}",
            "it is created by the first write (memvault remember); if it held memories, "
            "it vanished: recover them from the replica",
        )
    latest = max((m.version for m in available_migrations()), default=0)
    try:
        # mode=rw: never create the file, and leave migrations to a real open.
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=2.0)
    except sqlite3.Error as exc:
        return result(False, f"{path}: cannot open: {exc}", "check the file's permissions")
    try:
        integrity = conn.execute("PRAGMA quick_check").fetchone()[0]
        if integrity != "ok":
            return result(
                False,
                f"{path}: integrity check failed: {integrity}",
                "restore the store from the replica",
            )
        versions = applied_versions(conn)
        current = max(versions, default=0)
        if current == 0:
            return result(
                False,
                f"{path}: no memvault schema",
                "this file is not a memvault store (or its tables were dropped); "
                "recover it from the replica",
            )
        if current > latest:
            return result(
                False,
                f"{path}: schema version {current} is newer than this memvault ({latest})",
                "upgrade memvault",
            )
        live = conn.execute("SELECT count(*) FROM memories WHERE deleted_at IS NULL").fetchone()[0]
    except sqlite3.Error as exc:
        return result(False, f"{path}: unreadable: {exc}", "restore the store from the replica")
    finally:
        conn.close()
    schema = f"schema {current}/{latest}"
    if current < latest:
        schema += " (migrates on next open)"
    return result(True, f"{path} · {schema} · integrity ok · {live} memories")


# -- Neo4j (required: it is the replica) -----------------------------------------------------


async def check_neo4j(settings: Settings) -> CheckResult:
    """Connect to the replica with the configured credentials; detail is the server version."""
    started = time.perf_counter()

    def result(ok: bool, detail: str, hint: str | None = None) -> CheckResult:
        return CheckResult("neo4j", ok, True, detail, hint, _since(started))

    if settings.neo4j_password is None:
        return result(
            False, "NEO4J_PASSWORD is not set", "set NEO4J_PASSWORD in the environment or .env"
        )
    # Imported here: the driver is slow to import and only doctor and the replicator need it.
    from memvault.remote.neo4j import Neo4jReplica

    try:
        replica = Neo4jReplica.from_settings(settings)
    except Exception as exc:  # a malformed NEO4J_URI surfaces here
        return result(False, f"cannot use NEO4J_URI {settings.neo4j_uri!r}: {_brief(exc)}")
    try:
        version = await asyncio.wait_for(replica.ping(), NEO4J_TIMEOUT_S)
    except RejectedError as exc:
        return result(
            False,
            f"refused at {settings.neo4j_uri}: {_brief(exc)}",
            "check NEO4J_USER and NEO4J_PASSWORD",
        )
    except UnavailableError as exc:
        return result(False, f"{settings.neo4j_uri}: {_brief(exc)}", NEO4J_START_HINT)
    except TimeoutError:
        return result(
            False,
            f"no answer from {settings.neo4j_uri} within {NEO4J_TIMEOUT_S:g} s",
            NEO4J_START_HINT,
        )
    except Exception as exc:  # the driver has more failure modes than translated_errors maps
        return result(False, f"{settings.neo4j_uri}: {type(exc).__name__}: {_brief(exc)}")
    finally:
        await replica.close()
    return result(True, f"Neo4j {version} at {settings.neo4j_uri}")


# -- optional integrations --------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    """An HTTP answer (status, and body when read), or why there was none; with its latency."""

    status: int | None
    body: bytes
    error: str | None
    latency_ms: float


async def check_ollama(settings: Settings, client: httpx.AsyncClient) -> CheckResult:
    """GET {OLLAMA_URL}/api/tags and report whether OLLAMA_EMBED_MODEL is pulled."""
    model = settings.ollama_embed_model
    url = settings.ollama_url.rstrip("/") + "/api/tags"
    reply = await _get(client, url, read_body=True)

    def result(ok: bool, detail: str, hint: str | None = None) -> CheckResult:
        return CheckResult("ollama", ok, False, detail, hint, reply.latency_ms)

    if reply.error is not None:
        return result(False, reply.error, "start Ollama or set OLLAMA_URL")
    if reply.status != 200:
        return result(False, f"{url} answered HTTP {reply.status}", "is OLLAMA_URL Ollama?")
    try:
        names = {str(m["name"]) for m in json.loads(reply.body)["models"]}
    except (ValueError, KeyError, TypeError):
        return result(False, f"{url} did not answer with a model list", "is OLLAMA_URL Ollama?")
    if _model_listed(model, names):
        return result(True, f"{settings.ollama_url} · {model} available")
    return result(
        False, f"{settings.ollama_url} is up but {model} is not pulled", f"ollama pull {model}"
    )


def _model_listed(model: str, names: set[str]) -> bool:
    # Ollama lists "nomic-embed-text:latest" for a model pulled as "nomic-embed-text".
    wanted = {model} if ":" in model else {model, f"{model}:latest"}
    return bool(wanted & names)


async def check_n8n(settings: Settings, client: httpx.AsyncClient) -> CheckResult:
    """If N8N_WEBHOOK_URL is set, GET /healthz on its origin."""
    if not settings.n8n_webhook_url:
        return CheckResult("n8n", True, False, "not configured (N8N_WEBHOOK_URL is unset)")
    parts = urlsplit(settings.n8n_webhook_url)
    if not parts.scheme or not parts.netloc:
        detail = f"N8N_WEBHOOK_URL {settings.n8n_webhook_url!r} is not a URL"
        return CheckResult("n8n", False, False, detail, "set it to n8n's webhook URL")
    url = f"{parts.scheme}://{parts.netloc}/healthz"
    reply = await _get(client, url)
    if reply.error is not None:
        return CheckResult(
            "n8n", False, False, reply.error, "start n8n or fix N8N_WEBHOOK_URL", reply.latency_ms
        )
    detail = f"{url} answered HTTP {reply.status}"
    return CheckResult("n8n", reply.status == 200, False, detail, None, reply.latency_ms)


async def check_archon(settings: Settings, client: httpx.AsyncClient) -> CheckResult:
    """If ARCHON_MCP_URL is set, check that something answers HTTP there (any status will do)."""
    url = settings.archon_mcp_url
    if not url:
        return CheckResult("archon", True, False, "not configured (ARCHON_MCP_URL is unset)")
    reply = await _get(client, url)
    if reply.error is not None:
        return CheckResult(
            "archon",
            False,
            False,
            reply.error,
            "start Archon or fix ARCHON_MCP_URL",
            reply.latency_ms,
        )
    detail = f"{url} answers (HTTP {reply.status})"
    return CheckResult("archon", True, False, detail, None, reply.latency_ms)


async def _get(client: httpx.AsyncClient, url: str, *, read_body: bool = False) -> _Reply:
    """GET `url`. The body is read only when asked: an MCP or SSE endpoint may stream forever."""
    started = time.perf_counter()
    try:
        async with client.stream("GET", url) as response:
            body = await response.aread() if read_body else b""
            return _Reply(response.status_code, body, None, _since(started))
    except httpx.TimeoutException:
        error = f"{url}: no answer within {HTTP_TIMEOUT_S:g} s"
    except httpx.ConnectError as exc:
        error = f"{url}: unreachable ({_brief(exc) or 'connection refused'})"
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = f"{url}: {type(exc).__name__}: {_brief(exc)}"
    return _Reply(None, b"", error, _since(started))


def check_embeddings(settings: Settings) -> CheckResult:
    """The active embedding provider, model and dimension, proven by embedding a probe text.
    Optional: without embeddings, recall is keyword-only."""
    from memvault.embeddings.factory import create_embedder
    from memvault.errors import MemvaultError

    started = time.perf_counter()

    def result(ok: bool, detail: str, hint: str | None = None) -> CheckResult:
        return CheckResult("embeddings", ok, False, detail, hint, _since(started))

    try:
        embedder = create_embedder(settings)
    except Exception as exc:  # a malformed OLLAMA_URL surfaces here (httpx.InvalidURL)
        detail = f"{settings.embeddings}: cannot use OLLAMA_URL {settings.ollama_url!r}"
        return result(False, f"{detail}: {_brief(exc)}", "set OLLAMA_URL to Ollama's URL")
    try:
        info = embedder.info()
        if info.dimension is None:
            return result(
                True, "off (MEMVAULT_EMBEDDINGS=none): recall is keyword-only",
                "MEMVAULT_EMBEDDINGS=local gives semantic recall offline",
            )  # fmt: skip
        embedder.embed_query("memvault doctor probe")
        return result(True, f"{info.provider} · {info.model} · {info.dimension} dimensions")
    except MemvaultError as exc:
        hint = "start Ollama, or set MEMVAULT_EMBEDDINGS=local"
        return result(False, f"{settings.embeddings}: {_brief(exc)}", hint)
    finally:
        embedder.close()


def _brief(exc: BaseException) -> str:
    """An exception's message on one line, short enough for a table cell."""
    text = " ".join(str(exc).split())
    return text if len(text) <= 200 else text[:199] + "…"


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def check_n8n_and_ollama(settings: Settings) -> tuple[bool | None, bool]:
    """For sync status: is n8n reachable (None when not configured), and Ollama?"""
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
        n8n, ollama = await asyncio.gather(
            check_n8n(settings, client), check_ollama(settings, client)
        )
    return (n8n.ok if settings.n8n_webhook_url else None), ollama.ok
