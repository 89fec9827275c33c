"""The HTTP API contract, exercised over real sockets against real uvicorn servers."""

from __future__ import annotations

import json
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from memvault import __version__
from memvault.config import MAX_BODY_BYTES

from .conftest import API_TOKEN, RunningServer, make_settings, running_server


def _counts(client: httpx.Client) -> tuple[int, int, int]:
    """(live, forgotten, all listed incl. tombstones): a write must change one of them."""
    stats = client.get("/api/stats").json()
    listed = client.get("/api/memories", params={"include_deleted": True, "limit": 1000}).json()
    return stats["total"], stats["deleted"], len(listed)


def _create(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/memories", json={"content": "a memory", **fields})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def _assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    assert body["message"]
    return body


def test_health_names_the_version(client: httpx.Client) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "version": __version__}


def test_round_trip_create_get_update_search_list_delete(client: httpx.Client) -> None:
    project = f"round-trip-{uuid.uuid4().hex[:8]}"
    created = client.post(
        "/api/memories",
        json={
            "content": "Use WAL mode for the zephyrine store",
            "memory_type": "procedural",
            "importance": 0.8,
            "tags": ["SQLite", "perf"],
            "project_id": project,
            "session_id": "s-1",
        },
    )
    assert created.status_code == 201, created.text
    memory = created.json()
    memory_id = memory["id"]
    assert uuid.UUID(memory_id)
    assert memory["tags"] == ["sqlite", "perf"]
    assert memory["sync_version"] == 1
    assert "embedding" not in memory
    assert "embedding_model" in memory
    assert "embedding_dim" in memory

    fetched = client.get(f"/api/memories/{memory_id}")
    assert fetched.status_code == 200
    assert fetched.json() == memory

    updated = client.patch(
        f"/api/memories/{memory_id}",
        json={"content": "Use WAL mode and a busy timeout for the zephyrine store"},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["sync_version"] == 2
    assert updated.json()["importance"] == 0.8  # fields left out keep their value
    assert client.get(f"/api/memories/{memory_id}").json()["content"].endswith("zephyrine store")

    found = client.get("/api/memories/search", params={"q": "busy timeout", "project_id": project})
    assert found.status_code == 200, found.text
    hits = found.json()
    assert [hit["memory"]["id"] for hit in hits] == [memory_id]
    assert isinstance(hits[0]["score"], float)
    assert "embedding" not in hits[0]["memory"]

    other = _create(client, content="unrelated note", project_id=project, tags=["misc"])
    listed = client.get("/api/memories", params={"project_id": project})
    assert {m["id"] for m in listed.json()} == {memory_id, other["id"]}
    by_tag = client.get("/api/memories", params=[("project_id", project), ("tags", "sqlite")])
    assert [m["id"] for m in by_tag.json()] == [memory_id]
    by_type = client.get("/api/memories", params={"project_id": project, "memory_type": "semantic"})
    assert [m["id"] for m in by_type.json()] == [other["id"]]

    deleted = client.delete(f"/api/memories/{memory_id}")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["id"] == memory_id
    assert deleted.json()["deleted_at"] is not None

    _assert_error(client.get(f"/api/memories/{memory_id}"), 404, "not_found")
    tombstone = client.get(f"/api/memories/{memory_id}", params={"include_deleted": True})
    assert tombstone.status_code == 200
    assert tombstone.json()["deleted_at"] == deleted.json()["deleted_at"]
    live = client.get("/api/memories", params={"project_id": project}).json()
    assert [m["id"] for m in live] == [other["id"]]
    everything = client.get("/api/memories", params={"project_id": project, "include_deleted": 1})
    assert {m["id"] for m in everything.json()} == {memory_id, other["id"]}
    gone = client.get("/api/memories/search", params={"q": "busy timeout", "project_id": project})
    assert gone.json() == []


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_unknown_id_is_404(client: httpx.Client, method: str) -> None:
    before = _counts(client)
    body = {"importance": 0.1} if method == "PATCH" else None
    response = client.request(method, f"/api/memories/{uuid.uuid4()}", json=body)
    error = _assert_error(response, 404, "not_found")
    assert "not found" in error["message"]
    assert _counts(client) == before


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
def test_malformed_id_is_422_naming_id(client: httpx.Client, method: str) -> None:
    before = _counts(client)
    body = {"importance": 0.1} if method == "PATCH" else None
    response = client.request(method, "/api/memories/not-a-uuid", json=body)
    error = _assert_error(response, 422, "invalid_input")
    assert [d["field"] for d in error["details"]] == ["id"]
    assert "not a valid UUID" in error["details"][0]["message"]
    assert _counts(client) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": ""}, "content"),
        ({"content": "   "}, "content"),
        ({"content": "x" * 50_001}, "content"),
        ({"content": "fine", "importance": 2}, "importance"),
        ({"content": "fine", "memory_type": "gossip"}, "memory_type"),
        ({"content": "fine", "colour": "blue"}, "colour"),
        ({"content": "fine", "tags": ["ok", ""]}, "tags"),
        ({}, "content"),
    ],
    ids=[
        "empty",
        "blank",
        "too-long",
        "importance-2",
        "unknown-type",
        "unknown-field",
        "tag",
        "missing",
    ],
)
def test_invalid_create_is_422_naming_the_field_and_stores_nothing(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    before = _counts(client)
    error = _assert_error(client.post("/api/memories", json=body), 422, "invalid_input")
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"]
    assert _counts(client) == before


def test_malformed_json_is_422_and_stores_nothing(client: httpx.Client) -> None:
    before = _counts(client)
    response = client.post(
        "/api/memories",
        content=b'{"content": "half a body",',
        headers={"Content-Type": "application/json"},
    )
    error = _assert_error(response, 422, "invalid_json")
    assert "not valid JSON" in error["message"]
    assert [d["field"] for d in error["details"]] == ["body"]
    assert _counts(client) == before


def test_form_encoded_body_is_told_to_send_json(client: httpx.Client) -> None:
    before = _counts(client)
    # What `curl -d` sends by default.
    response = client.post("/api/memories", data={"content": "from a form"})
    error = _assert_error(response, 422, "invalid_input")
    assert "Content-Type: application/json" in error["message"]
    assert _counts(client) == before


def test_invalid_update_is_422_and_changes_nothing(client: httpx.Client) -> None:
    memory = _create(client, content="stable", importance=0.3)
    path = f"/api/memories/{memory['id']}"
    for body, field in [
        ({"importance": 2}, "importance"),
        ({"content": ""}, "content"),
        ({"project_id": "elsewhere"}, "project_id"),  # not changeable after creation
        ({}, "body"),
    ]:
        error = _assert_error(client.patch(path, json=body), 422, "invalid_input")
        assert field in [d["field"] for d in error["details"]], (body, error)
    assert client.get(path).json() == memory


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"memory_type": "gossip"}, "memory_type"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-01-01T00:00:00"}, "since"),  # no timezone
        ({"colour": "blue"}, "colour"),
    ],
)
def test_invalid_list_filter_is_422_naming_the_parameter(
    client: httpx.Client, params: dict[str, Any], field: str
) -> None:
    error = _assert_error(client.get("/api/memories", params=params), 422, "invalid_input")
    assert field in [d["field"] for d in error["details"]]


def test_since_after_until_is_refused(client: httpx.Client) -> None:
    params = {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    error = _assert_error(client.get("/api/memories", params=params), 422, "invalid_input")
    assert "since" in error["message"]
    assert "until" in error["message"]


def test_search_needs_words(client: httpx.Client) -> None:
    missing = _assert_error(client.get("/api/memories/search"), 422, "invalid_input")
    assert [d["field"] for d in missing["details"]] == ["q"]
    blank = _assert_error(
        client.get("/api/memories/search", params={"q": "  "}), 422, "invalid_input"
    )
    assert "query must not be empty" in blank["message"]


def test_time_filters_select_by_creation_time(client: httpx.Client) -> None:
    project = f"window-{uuid.uuid4().hex[:8]}"
    memory = _create(client, project_id=project)

    def listed(since: str) -> list[str]:
        params = {"project_id": project, "since": since}
        return [m["id"] for m in client.get("/api/memories", params=params).json()]

    assert listed(memory["created_at"]) == [memory["id"]]
    assert listed("2999-01-01T00:00:00Z") == []


def test_unknown_route_and_method_use_the_error_format(client: httpx.Client) -> None:
    _assert_error(client.get("/api/nothing-here"), 404, "not_found")
    _assert_error(client.put("/api/memories", json={}), 405, "method_not_allowed")


# -- body size --------------------------------------------------------------------------------


def _json_body_of(size: int) -> bytes:
    """A valid memory body of exactly `size` bytes, padded with JSON whitespace.

    Without the limit the server would store it, so "nothing stored" proves the refusal.
    """
    head, tail = b'{"content": "padded to the byte limit"', b"}"
    body = head + b" " * (size - len(head) - len(tail)) + tail
    assert len(body) == size
    return body


def test_body_over_limit_by_content_length_is_413(client: httpx.Client) -> None:
    before = _counts(client)
    response = client.post(
        "/api/memories",
        content=_json_body_of(MAX_BODY_BYTES + 1),
        headers={"Content-Type": "application/json"},
    )
    error = _assert_error(response, 413, "body_too_large")
    assert str(MAX_BODY_BYTES) in error["message"]
    assert _counts(client) == before


def test_body_over_limit_chunked_is_413(client: httpx.Client) -> None:
    before = _counts(client)
    body = _json_body_of(MAX_BODY_BYTES + 1)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    response = client.post(
        "/api/memories", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    _assert_error(response, 413, "body_too_large")
    assert _counts(client) == before


def test_body_at_limit_is_accepted(client: httpx.Client) -> None:
    response = client.post(
        "/api/memories",
        content=_json_body_of(MAX_BODY_BYTES),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["content"] == "padded to the byte limit"


def test_oversized_content_length_is_refused_before_the_body_arrives(api: RunningServer) -> None:
    """The server answers 413 while the client has sent headers only."""
    head = (
        "POST /api/memories HTTP/1.1\r\n"
        f"Host: {api.settings.host}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    )
    with socket.create_connection((api.settings.host, api.settings.port), timeout=30) as sock:
        sock.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# -- token ------------------------------------------------------------------------------------


def test_writes_without_token_are_401_and_change_nothing(secured_api: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with secured_api.client() as client:
        memory = client.post("/api/memories", json={"content": "guarded"}, headers=auth).json()
        path = f"/api/memories/{memory['id']}"
        before = _counts(client)
        for method, url, body in [
            ("POST", "/api/memories", {"content": "sneaky"}),
            ("PATCH", path, {"content": "sneaky"}),
            ("DELETE", path, None),
        ]:
            response = client.request(method, url, json=body)
            error = _assert_error(response, 401, "missing_token")
            assert response.headers["WWW-Authenticate"] == "Bearer"
            assert "Authorization: Bearer" in error["message"]
        assert _counts(client) == before
        assert client.get(path).json() == memory


@pytest.mark.parametrize(
    "header",
    [f"Bearer {API_TOKEN}x", "Bearer wrong", f"Bearer {API_TOKEN[:-1]}", f"Basic {API_TOKEN}"],
    ids=["longer", "other", "prefix", "basic-scheme"],
)
def test_wrong_token_is_refused(secured_api: RunningServer, header: str) -> None:
    with secured_api.client() as client:
        before = _counts(client)
        response = client.post(
            "/api/memories", json={"content": "sneaky"}, headers={"Authorization": header}
        )
        assert response.status_code == 401, response.text
        assert response.json()["error"] in {"invalid_token", "missing_token"}
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert API_TOKEN not in response.text
        assert _counts(client) == before


def test_right_token_writes_and_reads_need_none(secured_api: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with secured_api.client() as client:
        created = client.post("/api/memories", json={"content": "with a token"}, headers=auth)
        assert created.status_code == 201, created.text
        path = f"/api/memories/{created.json()['id']}"
        patched = client.patch(path, json={"importance": 0.9}, headers=auth)
        assert patched.status_code == 200
        for url in [path, "/api/memories", "/api/stats", "/api/health", "/openapi.json"]:
            assert client.get(url).status_code == 200, url
        assert client.get("/api/memories/search", params={"q": "token"}).status_code == 200
        assert client.delete(path, headers=auth).status_code == 200


def test_open_server_needs_no_token(client: httpx.Client) -> None:
    assert client.post("/api/memories", json={"content": "no token here"}).status_code == 201


# -- openapi, binding, lifecycle --------------------------------------------------------------


def test_openapi_describes_the_routes(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    expected = {
        "/api/memories": {"get", "post"},
        "/api/memories/search": {"get"},
        "/api/memories/{memory_id}": {"get", "patch", "delete"},
        "/api/stats": {"get"},
        "/api/health": {"get"},
    }
    for path, methods in expected.items():
        assert set(spec["paths"][path]) == methods, path
        for method in methods:
            operation = spec["paths"][path][method]
            assert operation["summary"], (path, method)
            assert "$ref" in json.dumps(operation["responses"]), (path, method)
    created = spec["paths"]["/api/memories"]["post"]["responses"]["201"]
    assert created["content"]["application/json"]["schema"]["$ref"].endswith("/MemoryOut")
    memory_out = spec["components"]["schemas"]["MemoryOut"]["properties"]
    assert "embedding" not in memory_out
    assert "embedding_model" in memory_out
    query = {p["name"] for p in spec["paths"]["/api/memories"]["get"]["parameters"]}
    assert {"project_id", "session_id", "memory_type", "tags", "since", "until"} <= query
    assert {"limit", "include_deleted"} <= query
    error = spec["paths"]["/api/memories"]["post"]["responses"]["422"]
    assert error["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")


def test_server_binds_loopback_by_default(api: RunningServer) -> None:
    assert api.settings.host == "127.0.0.1"  # make_settings leaves the default alone
    bound = {sock.getsockname()[0] for listener in api.server.servers for sock in listener.sockets}
    assert bound == {"127.0.0.1"}


def test_owned_store_is_closed_on_shutdown(tmp_path: Path) -> None:
    with running_server(make_settings(tmp_path / "home")) as running, running.client() as client:
        _create(client, content="kept after restart")
    with pytest.raises(sqlite3.ProgrammingError):
        running.app.state.service.stats()
    # The file outlives the server: a new one over the same home sees the memory.
    with running_server(make_settings(tmp_path / "home")) as again, again.client() as client:
        assert [m["content"] for m in client.get("/api/memories").json()] == ["kept after restart"]
