"""Invariant 7 as an operator sees it: every sync operation (push, pull, retry, quarantine)
leaves one parseable JSON log line with the SyncEvent fields, where MEMVAULT_LOG_FILE says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import Neo4jServer, free_port

SYNC_EVENT_FIELDS = {"id", "direction", "result", "count", "memory_ids", "duration_ms"}
SYNC_EVENT_FIELDS |= {"retries", "error", "operation", "level", "ts"}


def log_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of the log file, each of which must be a JSON object."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def sync_lines(path: Path, operation: str) -> list[dict[str, Any]]:
    return [line for line in log_lines(path) if line.get("operation") == operation]


def test_push_and_pull_log_one_line_each_to_the_log_file(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    log = tmp_path / "logs" / "memvault.jsonl"
    server = MemvaultServer(
        home=tmp_path / "home", neo4j=empty_replica, extra_env={"MEMVAULT_LOG_FILE": str(log)}
    )
    server.start()
    try:
        created = httpx.post(
            f"{server.url}/api/memories", json={"content": "Log every sync", "project_id": "p"}
        ).json()
        wait_for(
            lambda: any(created["id"] in line["memory_ids"] for line in sync_lines(log, "push")),
            what="the push's log line",
            timeout=20,
        )
        wait_for(lambda: bool(sync_lines(log, "pull")), what="a pull's log line", timeout=20)
    finally:
        server.stop()

    [push] = [line for line in sync_lines(log, "push") if created["id"] in line["memory_ids"]]
    assert set(push) >= SYNC_EVENT_FIELDS
    assert push["direction"] == "local_to_remote"
    assert (push["result"], push["count"], push["retries"], push["error"]) == (
        "success",
        1,
        0,
        None,
    )
    assert push["level"] == "info"
    assert push["duration_ms"] >= 0
    UUID(push["id"])
    pull = sync_lines(log, "pull")[0]
    assert set(pull) >= SYNC_EVENT_FIELDS
    assert pull["direction"] == "remote_to_local"
    assert '"operation"' not in server.logs()  # the sync lines went to the file, not stderr


def test_a_push_to_an_unreachable_replica_logs_its_retry(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    log = tmp_path / "memvault.jsonl"
    server = MemvaultServer(
        home=tmp_path / "home",
        neo4j=empty_replica,
        neo4j_uri=f"bolt://127.0.0.1:{free_port()}",  # nothing listens there
        extra_env={"MEMVAULT_LOG_FILE": str(log)},
    )
    server.start()
    try:
        created = httpx.post(f"{server.url}/api/memories", json={"content": "queued"}).json()
        wait_for(lambda: bool(sync_lines(log, "retry")), what="a retry's log line", timeout=30)
    finally:
        server.stop()

    retry = sync_lines(log, "retry")[0]
    assert set(retry) >= SYNC_EVENT_FIELDS
    assert retry["memory_ids"] == [created["id"]]
    assert (retry["result"], retry["retries"], retry["level"]) == ("queued", 1, "info")
    assert retry["error"]
    assert retry["next_retry_at"] > created["created_at"]
    [failed_push] = [line for line in sync_lines(log, "push") if line["result"] == "failed"][:1]
    assert failed_push["level"] == "warning"


def test_a_quarantine_logs_to_stderr_and_keeps_json_output_clean(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    server = MemvaultServer(
        home=tmp_path / "home",
        neo4j=empty_replica,
        extra_env={"MEMVAULT_DELETE_BURST_COUNT": "2"},  # a third delete in a minute is a burst
    )
    ids = [server.cli_json("remember", f"note {i}", "--project", "p")["id"] for i in range(3)]
    outputs = [server.cli("forget", memory_id, "--json") for memory_id in ids]

    assert [json.loads(done.stdout)["id"] for done in outputs] == ids  # stdout: only the JSON
    assert "quarantine" not in outputs[1].stderr  # two deletes are no burst
    [line] = [json.loads(text) for text in outputs[2].stderr.splitlines()]
    assert set(line) >= SYNC_EVENT_FIELDS
    assert (line["operation"], line["action"], line["count"]) == ("quarantine", "held", 3)
    assert sorted(line["memory_ids"]) == sorted(ids)
    [alert] = server.cli_json("alerts")
    assert line["alert_id"] == alert["id"]


def test_a_cli_quarantine_follows_the_log_settings(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    log = tmp_path / "cli.jsonl"
    server = MemvaultServer(
        home=tmp_path / "home",
        neo4j=empty_replica,
        extra_env={
            "MEMVAULT_DELETE_BURST_COUNT": "1",
            "MEMVAULT_LOG_FILE": str(log),
            "MEMVAULT_LOG_LEVEL": "INFO",
        },
    )
    ids = [server.cli_json("remember", f"note {i}", "--project", "p")["id"] for i in range(2)]
    outputs = [server.cli("forget", memory_id) for memory_id in ids]

    assert [done.stderr for done in outputs] == ["", ""]  # the line went to the file
    [line] = sync_lines(log, "quarantine")
    assert (line["action"], line["count"], line["level"]) == ("held", 2, "warning")

    quiet = MemvaultServer(
        home=tmp_path / "quiet-home",
        neo4j=empty_replica,
        extra_env={"MEMVAULT_DELETE_BURST_COUNT": "1", "MEMVAULT_LOG_LEVEL": "ERROR"},
    )
    ids = [quiet.cli_json("remember", f"note {i}", "--project", "p")["id"] for i in range(2)]
    assert [quiet.cli("forget", memory_id).stderr for memory_id in ids] == ["", ""]
