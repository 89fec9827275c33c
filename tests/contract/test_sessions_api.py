"""The session and project routes, over real sockets against a real uvicorn server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from .conftest import API_TOKEN, RunningServer, make_settings, running_server

HOME_PROJECT = "ctx-home"


@pytest.fixture(scope="module")
def ctx_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """An open server whose default project is HOME_PROJECT, with no replica configured."""
    settings = make_settings(tmp_path_factory.mktemp("api-ctx"), project=HOME_PROJECT)
    with running_server(settings) as running:
        yield running


@pytest.fixture
def client(ctx_api: RunningServer) -> Iterator[httpx.Client]:
    with ctx_api.client() as opened:
        yield opened


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def start(client: httpx.Client, **body: Any) -> dict[str, Any]:
    started: dict[str, Any] = ok(client.post("/api/memory/sessions", json=body), 201)
    return started


def remember(client: httpx.Client, content: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = ok(
        client.post("/api/memories", json={"content": content, **fields}), 201
    )
    return created


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "message", "details"}
    assert body["error"] == code
    return body


def session_ids(client: httpx.Client, **params: Any) -> list[str]:
    return [s["id"] for s in ok(client.get("/api/memory/sessions", params=params))]


def test_start_is_201_resumes_by_id_and_becomes_current(client: httpx.Client) -> None:
    project, sid = unique("start"), unique("agent-session")
    started = start(client, session_id=sid, project_id=project, agent="codex")
    assert (started["id"], started["project_id"], started["agent"]) == (sid, project, "codex")
    assert started["ended_at"] is None
    resumed = start(client, session_id=sid, project_id=project)
    assert (resumed["id"], resumed["started_at"]) == (sid, started["started_at"])
    memory = remember(client, "joins the current session", project_id=project)
    assert (memory["session_id"], memory["source"]) == (sid, "codex")
    assert session_ids(client, project_id=project) == [sid]
    bare = ok(client.post("/api/memory/sessions"), 201)  # no body at all: every field is optional
    assert (bare["project_id"], bare["agent"], bare["ended_at"]) == (HOME_PROJECT, None, None)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"session_id": "a/b"}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"agent": "x" * 201}, "agent"),
        ({"colour": "blue"}, "colour"),
        ({"project_id": "has space"}, "project_id"),
    ],
)
def test_bad_start_is_422_naming_the_field_and_starts_nothing(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    before = session_ids(client, limit=1000)
    error = assert_error(client.post("/api/memory/sessions", json=body), 422, "invalid_input")
    assert field in [d["field"] for d in error["details"]]
    assert field in error["message"]
    assert session_ids(client, limit=1000) == before


def test_list_filters_by_project_agent_dates_and_limit(client: httpx.Client) -> None:
    project = unique("listing")
    made = [start(client, project_id=project, agent=agent) for agent in ["a1", "a2", "a1"]]
    newest_first = [s["id"] for s in reversed(made)]
    assert session_ids(client, project_id=project) == newest_first
    assert session_ids(client, project_id=project, agent="a1") == [made[2]["id"], made[0]["id"]]
    assert session_ids(client, project_id=project, limit=1) == newest_first[:1]
    since, until = made[1]["started_at"], made[2]["started_at"]
    assert session_ids(client, project_id=project, since=since) == newest_first[:2]
    assert session_ids(client, project_id=project, until=since) == newest_first[1:]
    inverted = client.get("/api/memory/sessions", params={"since": until, "until": since})
    error = assert_error(inverted, 422, "invalid_input")
    assert [d["field"] for d in error["details"]] == ["until"]
    unknown = client.get("/api/memory/sessions", params={"colour": "blue"})
    assert [d["field"] for d in assert_error(unknown, 422, "invalid_input")["details"]] == [
        "colour"
    ]


def test_detail_returns_the_memories_oldest_first_and_resolves_previous(
    client: httpx.Client,
) -> None:
    project = unique("detail")
    first = start(client, project_id=project, agent="claude-code")
    kept = [remember(client, f"step {n}", project_id=project) for n in range(3)]
    dropped = kept.pop(1)
    ok(client.delete(f"/api/memories/{dropped['id']}"))
    second = start(client, project_id=project)
    detail = ok(client.get(f"/api/memory/sessions/{first['id']}"))
    assert detail["session"]["id"] == first["id"]
    assert [m["id"] for m in detail["memories"]] == [m["id"] for m in kept]
    assert all("embedding" not in m for m in detail["memories"])
    previous = ok(client.get("/api/memory/sessions/previous", params={"project_id": project}))
    assert previous == detail
    current = ok(client.get("/api/memory/sessions/current", params={"project_id": project}))
    assert (current["session"]["id"], current["memories"]) == (second["id"], [])
    missing = client.get(f"/api/memory/sessions/{unique('nobody')}")
    assert "not found" in assert_error(missing, 404, "not_found")["message"]


def test_end_with_and_without_a_body(client: httpx.Client) -> None:
    project = unique("ending")
    sid = start(client, project_id=project)["id"]
    plain = ok(client.post(f"/api/memory/sessions/{sid}/end"))
    assert plain["ended_at"] is not None
    assert plain["summary"] is None
    summarised = ok(client.post(f"/api/memory/sessions/{sid}/end", json={"summary": "done"}))
    assert (summarised["summary"], summarised["ended_at"]) == ("done", plain["ended_at"])
    again = ok(client.post(f"/api/memory/sessions/{sid}/end"))
    assert again == summarised  # ending twice is harmless
    bad = client.post(f"/api/memory/sessions/{sid}/end", json={"summary": "x", "mood": "good"})
    assert [d["field"] for d in assert_error(bad, 422, "invalid_input")["details"]] == ["mood"]
    assert ok(client.get(f"/api/memory/sessions/{sid}"))["session"] == summarised
    unknown = client.post(f"/api/memory/sessions/{unique('nobody')}/end")
    assert_error(unknown, 404, "not_found")


def test_projects_count_live_memories_and_sessions(client: httpx.Client) -> None:
    project = unique("counted")
    start(client, project_id=project)
    remember(client, "kept", project_id=project)
    start(client, project_id=project)
    gone = remember(client, "forgotten", project_id=project)
    forgotten = ok(client.delete(f"/api/memories/{gone['id']}"))
    summaries = {p["id"]: p for p in ok(client.get("/api/memory/projects"))}
    counted = summaries[project]
    assert (counted["memory_count"], counted["session_count"]) == (1, 2)
    assert (counted["name"], counted["last_active_at"]) == (project, forgotten["updated_at"])


def test_search_spans_projects_on_request_and_reads_the_previous_session(
    client: httpx.Client,
) -> None:
    elsewhere, word = unique("elsewhere"), f"zanzibar{uuid.uuid4().hex[:8]}"
    start(client, project_id=elsewhere, agent="claude-code")
    earlier = remember(client, f"{word} ledger rules", project_id=elsewhere)
    start(client, project_id=elsewhere)
    remember(client, f"{word} question from now", project_id=elsewhere)

    def found(**params: Any) -> list[str]:
        hits = ok(client.get("/api/memories/search", params={"q": word, **params}))
        return [h["memory"]["id"] for h in hits]

    assert found() == []  # a plain query covers the server's project (and global memories)
    assert len(found(all_projects=True)) == 2
    assert found(project_id=elsewhere, session_id="previous") == [earlier["id"]]
    assert found(project_id=elsewhere, session_id="previous", all_projects=True) == [earlier["id"]]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/memories/search", {"q": "anything", "remote": "true"}),
        ("/api/memory/sessions", {"remote": "true"}),
        ("/api/memory/sessions/previous", {"remote": "true"}),
        ("/api/memory/projects", {"remote": "true"}),
    ],
)
def test_remote_without_a_replica_is_503_saying_so(
    client: httpx.Client, path: str, params: dict[str, str]
) -> None:
    error = assert_error(client.get(path, params=params), 503, "replica_unavailable")
    assert "no replica is configured" in error["message"]


def test_session_writes_need_the_token(secured_api: RunningServer) -> None:
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    with secured_api.client() as client:
        before = session_ids(client, limit=1000)
        refused = client.post("/api/memory/sessions", json={"session_id": "sneaky"})
        assert_error(refused, 401, "missing_token")
        assert session_ids(client, limit=1000) == before
        sid = ok(client.post("/api/memory/sessions", json={}, headers=auth), 201)["id"]
        wrong = {"Authorization": "Bearer wrong"}
        ended = client.post(f"/api/memory/sessions/{sid}/end", headers=wrong)
        assert_error(ended, 401, "invalid_token")
        assert ok(client.get(f"/api/memory/sessions/{sid}"))["session"]["ended_at"] is None
        assert ok(client.post(f"/api/memory/sessions/{sid}/end", headers=auth))["ended_at"]
