"""Bearer token for writes: when MEMVAULT_API_TOKEN is set, every write must present it."""

from __future__ import annotations

import hmac

from fastapi.security import HTTPBearer
from starlette.types import ASGIApp, Receive, Scope, Send

from memvault.api.errors import error_response

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Documents the scheme in OpenAPI only; BearerTokenMiddleware enforces it, before the body is
# read and for every write route, including ones added later without a dependency.
bearer_scheme = HTTPBearer(
    auto_error=False,
    description="Required for writes when the server runs with MEMVAULT_API_TOKEN set.",
)


class BearerTokenMiddleware:
    """Refuse writes without `Authorization: Bearer <token>` with 401; reads stay open."""

    def __init__(
        self, app: ASGIApp, token: str, signed_paths: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self._expected = token.encode("utf-8")
        self._signed_paths = signed_paths  # authenticated by their HMAC signature instead

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or scope["path"] in self._signed_paths
        ):
            await self.app(scope, receive, send)
            return
        presented = _bearer_token(scope)
        if presented is None:
            response = error_response(
                401,
                "missing_token",
                "this server requires a token for writes; send it as "
                "'Authorization: Bearer <token>' (the value of MEMVAULT_API_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        elif not hmac.compare_digest(presented, self._expected):
            response = error_response(
                401,
                "invalid_token",
                "the bearer token is not the one this server was started with; "
                "check MEMVAULT_API_TOKEN",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        else:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _bearer_token(scope: Scope) -> bytes | None:
    """The token of a `Bearer` Authorization header, as raw bytes; None when absent."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return bytes(token.strip())
            return None
    return None
