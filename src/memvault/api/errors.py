"""One error format for every API failure.

`{"error": code, "message": sentence, "details": [{"field", "message"}]}`.

Service errors keep their meaning across the wire: InvalidInputError and request validation are
422, NotFoundError is 404; the HTTP layer's own refusals (401, 404 route, 405, 413) use the same
shape, so a client parses one format.
"""

from __future__ import annotations

import email.message
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from memvault.errors import InvalidInputError, NotFoundError, StoreError, UnavailableError

# FastAPI prefixes each validation location with where the value came from; clients know the
# field by its own name ("content", "limit"), so the source is dropped.
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
}


class ErrorDetail(BaseModel):
    """One problem with the request, named by field."""

    field: str
    message: str


class ErrorOut(BaseModel):
    """The body of every error response."""

    error: str
    message: str
    details: list[ErrorDetail] = []


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A JSON error in the one format; also usable as a plain ASGI app by middleware."""
    body = {"error": code, "message": message, "details": [dict(d) for d in details]}
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def _invalid(problems: Sequence[Mapping[str, str]], message: str | None = None) -> JSONResponse:
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(422, "invalid_input", message or f"invalid input: {summary}", problems)


def _field(loc: Sequence[Any]) -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[0] in _SOURCES:
        parts = parts[1:]
    return ".".join(str(part) for part in parts) or "body"


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _on_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    for item in errors:
        if item.get("type") == "json_invalid":
            reason = item.get("ctx", {}).get("error", "malformed JSON")
            position = item["loc"][-1] if len(item.get("loc", ())) > 1 else "?"
            detail = f"{reason} at character {position}"
            return error_response(
                422,
                "invalid_json",
                f"the request body is not valid JSON ({detail}); send one JSON object",
                [{"field": "body", "message": f"not valid JSON: {detail}"}],
            )
    problems = [
        {"field": _field(item.get("loc", ())), "message": item["msg"].removeprefix("Value error, ")}
        for item in errors
    ]
    body_problem = any(p["field"] == "body" for p in problems)
    if body_problem and not _is_json(request.headers.get("content-type")):
        return _invalid(
            problems,
            "the request body must be a JSON object sent with Content-Type: application/json",
        )
    return _invalid(problems)


async def _on_invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    return _invalid(exc.problems)


async def _on_not_found(request: Request, exc: Exception) -> JSONResponse:
    return error_response(404, "not_found", str(exc))


async def _on_store_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, "store_unavailable", f"the local store cannot be used: {exc}")


async def _on_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return error_response(503, "replica_unavailable", str(exc))


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if exc.status_code != 404 else f"no route for {request.url.path}"
    return error_response(exc.status_code, code, str(message), headers=exc.headers)


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the API can raise to the one JSON format."""
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(InvalidInputError, _on_invalid_input)
    app.add_exception_handler(NotFoundError, _on_not_found)
    app.add_exception_handler(StoreError, _on_store_error)
    app.add_exception_handler(UnavailableError, _on_unavailable)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
