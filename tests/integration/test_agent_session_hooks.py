"""The agents' session hooks with the real replica: a session start after the agent wiped the
store rebuilds it from Neo4j before it briefs the agent, and a session end reaches Neo4j through
the running `memvault serve`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import Neo4jServer, query


def hook(server: MemvaultServer, event: str, session_id: str, cwd: Path) -> str:
    """Claude Code's hook JSON for `event`, as the agent would send it."""
    fields = {"source": "startup"} if event == "SessionStart" else {"reason": "exit"}
    return json.dumps(
        {
            "session_id": session_id,
            "transcript_path": str(cwd / "transcript.jsonl"),
            "cwd": str(cwd),
            "hook_event_name": event,
            **fields,
        }
    )


def run_hook(server: MemvaultServer, name: str, stdin: str) -> tuple[str, str]:
    done = server.cli("hooks", name, "--agent", "claude", input_text=stdin)
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


def test_session_start_recovers_a_deleted_store_then_briefs_the_agent(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    project = tmp_path / "shop"  # the agent works here: project "shop"
    project.mkdir()
    server = MemvaultServer(home=tmp_path / "home", neo4j=empty_replica)
    settings = empty_replica.settings(server.home)
    server.start()
    try:
        # Step 1: a first agent session leaves decisions and a summary; all of it replicates.
        run_hook(server, "session-start", hook(server, "SessionStart", "agent-1", project))
        for text in ("Orders are sharded by customer id", "Never log card numbers"):
            assert server.cli("remember", text, "--project", "shop").returncode == 0
        run_hook(server, "session-end", hook(server, "SessionEnd", "agent-1", project))
        assert server.cli("session", "end", "agent-1", "--summary", "sharding").returncode == 0
        wait_for(
            lambda: (
                query(
                    settings,
                    "MATCH (s:Session {id: 'agent-1'})<-[:BELONGS_TO]-(m:Memory) "
                    "RETURN s.summary AS summary, count(m) AS n",
                )
                == [{"summary": "sharding", "n": 2}]
            ),
            what="the session and its memories on the replica",
            timeout=20,
        )
    finally:
        server.stop()

    shutil.rmtree(server.home)  # Step 2: the agent "cleans up" while nothing runs.

    # Step 3: the next session starts; its hook rebuilds the store before the briefing.
    out, err = run_hook(server, "session-start", hook(server, "SessionStart", "agent-2", project))

    context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
    assert "the local store was missing; 2 memories were rebuilt" in context
    assert "verified against the replica" in context
    assert "Previous session agent-1 (claude-code, ended" in context
    assert "sharding" in context
    assert "Orders are sharded by customer id" in context
    assert "Never log card numbers" in context
    assert "memvault: the local store was missing; 2 memories were rebuilt" in err
    assert '"operation": "recovery"' in err  # the recovery's JSON log line, on stderr
    verified = server.cli("verify", "--project", "shop")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    current = server.cli_json("session", "current", "--project", "shop")
    assert (current["id"], current["previous_id"]) == ("agent-2", "agent-1")


def test_session_end_hands_replication_to_the_running_server(
    memvault_server: MemvaultServer, tmp_path: Path
) -> None:
    server = memvault_server
    settings = server.neo4j.settings(server.home)
    project = tmp_path / "shop"
    project.mkdir()
    run_hook(server, "session-start", hook(server, "SessionStart", "agent-9", project))

    _, err = run_hook(server, "session-end", hook(server, "SessionEnd", "agent-9", project))

    assert "no `memvault serve` answered" not in err  # the running server took the nudge
    ended = server.cli_json("session", "show", "agent-9")["session"]["ended_at"]
    assert ended is not None
    wait_for(
        lambda: bool(
            query(
                settings,
                "MATCH (s:Session {id: 'agent-9'}) WHERE s.ended_at IS NOT NULL RETURN s.id",
            )
        ),
        what="the session's end on the replica",
        timeout=20,
    )
