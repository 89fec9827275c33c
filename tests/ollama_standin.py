# Stand-in for Ollama speaking its documented wire contract; no Ollama can run here.
"""A real HTTP server on 127.0.0.1 that answers like Ollama, switchable per test.

Shapes and errors follow Ollama's API documentation (see ../shared/notes/integrations.md):
`POST /api/embed` `{"model", "input": str | [str]}` → `{"model", "embeddings": [[…]]}` with
L2-normalised vectors; the older `POST /api/embeddings` `{"model", "prompt"}` →
`{"embedding": […]}`, not normalised; `GET /api/tags` → `{"models": [{"name", "model", …}]}`.
Errors are `{"error": "…"}`: 400 (missing body, `model is required`, bad input type), 404
(`model '…' not found`), 500, 503 (queue full). An unknown route is a plain-text 404, as Ollama's
router answers. Vectors are deterministic: seeded by a hash of model and text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import socket
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DIMENSIONS = {"nomic-embed-text": 768, "all-minilm": 384, "mxbai-embed-large": 1024}
BUSY = "server busy, please try again.  maximum pending requests exceeded"


@dataclass(frozen=True)
class Request:
    """One request the stand-in received."""

    method: str
    path: str
    body: Any  # the parsed JSON body, or None


@dataclass
class OllamaStandin:
    """Serve while used as a context manager; flip the public fields to change its behaviour."""

    pulled: set[str] = field(default_factory=lambda: {"nomic-embed-text:latest"})
    legacy: bool = False  # True: an Ollama older than /api/embed (the route answers 404)
    forced_status: int | None = None  # answer every embed request with this error status
    hang: bool = False  # hold embed requests unanswered until the stand-in stops
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        self._thread: threading.Thread | None = None
        self.url = ""

    def __enter__(self) -> OllamaStandin:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False  # stop() closes open connections itself
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Go down: stop serving and close the port (connections are then refused)."""
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        # Kept-alive connections would otherwise go on being served by their handler threads.
        with self._lock:
            connections, self._connections = self._connections, set()
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def paths(self) -> list[str]:
        """The paths of the requests received so far, in order."""
        with self._lock:
            return [r.path for r in self.requests]

    def inputs(self) -> list[str]:
        """Every text sent for embedding so far, across both embed routes, in order."""
        texts: list[str] = []
        with self._lock:
            for r in self.requests:
                if r.path == "/api/embed" and isinstance(r.body, dict):
                    given = r.body.get("input")
                    texts.extend([given] if isinstance(given, str) else given or [])
                elif r.path == "/api/embeddings" and isinstance(r.body, dict):
                    texts.append(r.body.get("prompt", ""))
        return texts

    def is_pulled(self, model: str) -> bool:
        """Ollama's name resolution: `x` means `x:latest`."""
        return (model if ":" in model else f"{model}:latest") in self.pulled

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def raw_vector(model: str, text: str) -> list[float]:
    """The stand-in's deterministic, unnormalised vector of `text` under `model`."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{text}".encode()).digest()[:8], "big")
    rng = random.Random(seed)
    dimension = DIMENSIONS.get(model.split(":", 1)[0], 32)
    return [rng.gauss(0.0, 1.0) * 3.0 + 0.5 for _ in range(dimension)]


def unit_vector(model: str, text: str) -> list[float]:
    """`raw_vector` scaled to unit length: what /api/embed returns."""
    raw = raw_vector(model, text)
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def _handler_for(standin: OllamaStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

        def setup(self) -> None:
            super().setup()
            with standin._lock:
                standin._connections.add(self.connection)

        def finish(self) -> None:
            with standin._lock:
                standin._connections.discard(self.connection)
            super().finish()

        def do_GET(self) -> None:
            standin._record(Request("GET", self.path, None))
            if self.path != "/api/tags":
                self._not_found_route()
                return
            models = [_tag(name) for name in sorted(standin.pulled)]
            self._json(HTTPStatus.OK, {"models": models})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            standin._record(Request("POST", self.path, body))
            routes = {"/api/embeddings": self._embeddings}
            if not standin.legacy:
                routes["/api/embed"] = self._embed
            route = routes.get(self.path)
            if route is None:
                self._not_found_route()
                return
            if standin.hang:
                standin._release.wait(timeout=60)
                return
            if standin.forced_status is not None:
                status = standin.forced_status
                message = BUSY if status == 503 else f"forced error {status}"
                self._json(status, {"error": message})
                return
            if not raw:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "missing request body"})
                return
            if not isinstance(body, dict):
                self._json(HTTPStatus.BAD_REQUEST, {"error": "invalid request body"})
                return
            model = body.get("model")
            if not isinstance(model, str) or not model:
                self._json(HTTPStatus.BAD_REQUEST, {"error": "model is required"})
                return
            if not standin.is_pulled(model):
                self._json(HTTPStatus.NOT_FOUND, {"error": f"model '{model}' not found"})
                return
            route(model, body)

        def _embed(self, model: str, body: dict[str, Any]) -> None:
            given = body.get("input")
            if isinstance(given, str):
                given = [given]
            if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
                self._json(HTTPStatus.BAD_REQUEST, {"error": "invalid input type"})
                return
            vectors = [unit_vector(model, text) for text in given]
            self._json(
                HTTPStatus.OK,
                {"model": model, "embeddings": vectors, "total_duration": 14143917,
                 "load_duration": 1019500, "prompt_eval_count": len(given)},
            )  # fmt: skip

        def _embeddings(self, model: str, body: dict[str, Any]) -> None:
            prompt = body.get("prompt")
            if not isinstance(prompt, str):
                self._json(HTTPStatus.BAD_REQUEST, {"error": "invalid input type"})
                return
            self._json(HTTPStatus.OK, {"embedding": raw_vector(model, prompt)})

        def _not_found_route(self) -> None:
            payload = b"404 page not found"
            self.send_response(HTTPStatus.NOT_FOUND)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, document: object) -> None:
            payload = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    return Handler


def _tag(name: str) -> dict[str, Any]:
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {
        "name": name,
        "model": name,
        "modified_at": "2025-01-15T10:00:00Z",
        "size": 274302450,
        "digest": digest,
        "details": {"format": "gguf", "family": "nomic-bert", "parameter_size": "137M",
                    "quantization_level": "F16"},
    }  # fmt: skip


def pulled(*names: str) -> set[str]:
    """Model names as Ollama lists them (`x` → `x:latest`)."""
    return {n if ":" in n else f"{n}:latest" for n in names}
