"""Embeddings from an Ollama server: `POST /api/embed`, or `/api/embeddings` on older servers.

Transport only: this client never retries; the caller queues and backs off on UnavailableError.
Some models want a task prefix in front of the text (nomic-embed-text: `search_document: ` for
stored text, `search_query: ` for queries); the table below says which.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from memvault.embeddings.base import EmbedderInfo, normalise
from memvault.errors import RejectedError, UnavailableError

DEFAULT_TIMEOUT_S = 30.0
BATCH_SIZE = 32  # texts per /api/embed request: bounds the request body and the server's queue slot
PROBE_TEXT = "dimension probe"

# model base name → (document prefix, query prefix), as each model's card asks.
TASK_PREFIXES: dict[str, tuple[str, str]] = {
    "nomic-embed-text": ("search_document: ", "search_query: "),
}


@dataclass(frozen=True)
class OllamaHealth:
    """What `GET /api/tags` said: is the server up, and is the configured model pulled."""

    url: str
    model: str
    reachable: bool
    model_pulled: bool
    pulled: tuple[str, ...]  # names of every pulled model
    detail: str  # one line for a person, with what to do when something is wrong

    @property
    def ok(self) -> bool:
        """Up with the model pulled: embeddings can be made now."""
        return self.reachable and self.model_pulled


def base_name(model: str) -> str:
    """`nomic-embed-text` for `nomic-embed-text:latest`, `library/nomic-embed-text:v1.5` …"""
    return model.split(":", 1)[0].rsplit("/", 1)[-1]


class OllamaEmbedder:
    """An Ollama embedding model over HTTP (a sync httpx client; safe to share across threads)."""

    def __init__(self, url: str, model: str, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self._url = url.rstrip("/")
        self._model = model
        self._prefixes = TASK_PREFIXES.get(base_name(model), ("", ""))
        self._client = httpx.Client(base_url=self._url, timeout=timeout, follow_redirects=False)
        self._legacy = False  # set once the server turned out to lack /api/embed
        self._dimension: int | None = None
        self._lock = threading.Lock()

    @property
    def uses_legacy_endpoint(self) -> bool:
        """True once the server answered 404 for /api/embed and `/api/embeddings` is used."""
        return self._legacy

    def info(self) -> EmbedderInfo:
        """Provider "ollama", the configured model; the dimension of a probe embedding (cached)."""
        with self._lock:
            if self._dimension is None:
                self._dimension = len(self.embed_query(PROBE_TEXT))
            return EmbedderInfo(provider="ollama", model=self._model, dimension=self._dimension)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        """Vectors of stored texts, with the model's document prefix."""
        prefix = self._prefixes[0]
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            vectors.extend(self._embed([prefix + t for t in texts[start : start + BATCH_SIZE]]))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """The vector of a search query, with the model's query prefix."""
        return self._embed([self._prefixes[1] + text])[0]

    def health(self) -> OllamaHealth:
        """Ask `GET /api/tags` whether the server is up and the model pulled; never raises."""

        def answer(reachable: bool, pulled: tuple[str, ...], detail: str) -> OllamaHealth:
            has = _listed(self._model, pulled)
            return OllamaHealth(self._url, self._model, reachable, has, pulled, detail)

        try:
            response = self._client.get("/api/tags")
        except httpx.HTTPError as exc:
            return answer(False, (), f"{self._unreachable(exc)}")
        if response.status_code != 200:
            return answer(True, (), f"{self._url}/api/tags answered HTTP {response.status_code}")
        try:
            models = response.json()["models"]
            pulled = tuple(str(m.get("name") or m["model"]) for m in models)
        except (ValueError, KeyError, TypeError, AttributeError):
            return answer(True, (), f"{self._url} did not answer with a model list; {_NOT_OLLAMA}")
        if _listed(self._model, pulled):
            return answer(True, pulled, f"{self._url} is up and {self._model} is pulled")
        return answer(
            True, pulled, f"{self._url} is up but {self._model} is not pulled: {self._pull_hint}"
        )

    def close(self) -> None:
        """Close the HTTP connections."""
        self._client.close()

    # -- transport --------------------------------------------------------------------------

    @property
    def _pull_hint(self) -> str:
        return f"run `ollama pull {self._model}`"

    def _embed(self, inputs: list[str]) -> list[list[float]]:
        if not inputs:
            return []
        if not self._legacy:
            response = self._post("/api/embed", {"model": self._model, "input": inputs})
            if not _is_missing_route(response):
                self._raise_for_status(response)
                raw = _field(response, "embeddings")
                if not isinstance(raw, list) or len(raw) != len(inputs):
                    raise RejectedError(f"{self._url}/api/embed: {_NOT_OLLAMA} (bad embeddings)")
                return [self._vector(v) for v in raw]
            self._legacy = True  # an Ollama older than 0.3.4: remember, don't ask again
        return [self._embed_legacy(text) for text in inputs]

    def _embed_legacy(self, text: str) -> list[float]:
        response = self._post("/api/embeddings", {"model": self._model, "prompt": text})
        if _is_missing_route(response):
            where = f"{self._url} has neither /api/embed nor /api/embeddings"
            raise RejectedError(f"{where}; {_NOT_OLLAMA}")
        self._raise_for_status(response)
        return self._vector(_field(response, "embedding"))  # this endpoint does not normalise

    def _vector(self, raw: Any) -> list[float]:
        if not isinstance(raw, list) or not all(isinstance(x, int | float) for x in raw):
            raise RejectedError(f"{self._url}: {_NOT_OLLAMA} (an embedding is not a number list)")
        return normalise(raw, source=f"Ollama model {self._model}")

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        try:
            return self._client.post(path, json=body)
        except httpx.HTTPError as exc:
            raise UnavailableError(self._unreachable(exc)) from exc

    def _unreachable(self, exc: httpx.HTTPError) -> str:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "cannot be reached"
        return (
            f"Ollama at {self._url} {kind} ({type(exc).__name__}: {exc}); start it with "
            "`ollama serve` or set OLLAMA_URL"
        )

    def _raise_for_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status == 200:
            return
        said = _error_text(response)
        where = f"Ollama {response.request.url.path} answered {status}: {said}"
        if status == 404:
            raise RejectedError(f"Ollama has no model {self._model!r} ({said}): {self._pull_hint}")
        if status == 503:
            raise UnavailableError(f"{where} (its queue is full; try again later)")
        if status >= 500 or status == 429:
            raise UnavailableError(where)
        raise RejectedError(f"{where}; check OLLAMA_EMBED_MODEL and the text sent")


_NOT_OLLAMA = "is OLLAMA_URL an Ollama server?"


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return str(error) if error else response.text.strip()[:200] or "no message"


def _is_missing_route(response: httpx.Response) -> bool:
    # A 404 for the route itself is a plain "404 page not found"; a missing model is a JSON
    # `{"error": "model '…' not found"}`. Only the first means the server predates the route.
    if response.status_code != 404:
        return False
    try:
        body = response.json()
    except ValueError:
        return True
    return not (isinstance(body, dict) and "error" in body)


def _field(response: httpx.Response, name: str) -> Any:
    try:
        return response.json()[name]
    except (ValueError, KeyError, TypeError) as exc:
        url = response.request.url
        raise RejectedError(f"{url} answered without {name!r}; {_NOT_OLLAMA}") from exc


def _listed(model: str, names: Sequence[str]) -> bool:
    # Ollama lists "nomic-embed-text:latest" for a model pulled as "nomic-embed-text".
    wanted = {model} if ":" in model else {model, f"{model}:latest"}
    return bool(wanted.intersection(names))
