"""Cross-session and cross-project recall, end to end: the real `memvault serve` replicating to
the real Neo4j, driven by the real CLI as an agent's hooks and a person would drive it; then
the local store is deleted and the same questions are answered from the replica."""

from __future__ import annotations

import json

from .memvault_server import MemvaultServer, wait_for
from .neo4j_server import query

AUTH_NOTES = (
    "Authentication uses JWT access tokens that live 15 minutes",
    "Refresh tokens rotate on every use; authentication fails closed",
    "Authentication errors return 401 with a WWW-Authenticate header",
    "Passwords are hashed with argon2id before authentication checks",
    "Service-to-service authentication uses mTLS, not shared secrets",
)


def cli_ok(server: MemvaultServer, *args: str) -> str:
    done = server.cli(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_new_session_recalls_what_the_previous_one_decided_even_after_a_wipe(
    memvault_server: MemvaultServer,
) -> None:
    server = memvault_server
    settings = server.neo4j.settings(server.home)

    # Session A (as Claude Code's session-start hook would begin it) decides about auth.
    cli_ok(server, "session", "start", "--id", "sess-a", "--project", "shop", "--agent", "claude")
    auth_ids = [
        cli_ok(server, "remember", note, "--project", "shop").strip() for note in AUTH_NOTES
    ]
    rate_note = "API rate limiting pattern: token bucket per client"
    pattern = cli_ok(server, "remember", rate_note, "-p", "shop", "--type", "procedural").strip()
    cli_ok(server, "session", "end", "--summary", "Settled authentication: JWT + rotation")
    cli_ok(server, "session", "start", "--id", "sess-b", "--project", "shop", "--agent", "claude")

    # Session B asks what the last session decided: all five, attributed to session A.
    hits = server.cli_json("recall", "authentication", "--session", "previous", "-p", "shop")
    assert sorted(hit["memory"]["id"] for hit in hits) == sorted(auth_ids)
    assert {(h["memory"]["session_id"], h["memory"]["source"]) for h in hits} == {
        ("sess-a", "claude")
    }
    shown = server.cli_json("session", "show", "previous", "--project", "shop")
    assert shown["session"]["summary"] == "Settled authentication: JWT + rotation"
    assert [m["id"] for m in shown["memories"]] == [*auth_ids, pattern]

    # Another project: a plain query does not see shop's project-scoped memory; a
    # cross-project one does, with shop attributed.
    assert server.cli_json("recall", "rate limiting", "--project", "billing") == []
    across = server.cli_json("recall", "rate limiting", "-p", "billing", "--all-projects")
    assert [(h["memory"]["id"], h["memory"]["project_id"]) for h in across] == [(pattern, "shop")]

    # The replica holds the sessions with their chain, end, summary and agent.
    def replicated() -> bool:
        rows = query(
            settings,
            "MATCH (a:Session {id: 'sess-a'})-[:FOLLOWED_BY]->(b:Session {id: 'sess-b'}),"
            " (a)-[:PART_OF]->(:Project {id: 'shop'})"
            " MATCH (m:Memory)-[:BELONGS_TO]->(a)"
            " RETURN a.ended_at IS NOT NULL AND a.summary IS NOT NULL AS ended, count(m) AS n",
        )
        return bool(rows) and rows[0]["ended"] and rows[0]["n"] == 6

    wait_for(replicated, "sessions, their chain and memories to replicate")
    started_b = server.cli_json("session", "current", "-p", "shop")["started_at"]

    # The agent wipes the machine's store. The same questions are answered by the replica.
    server.stop()
    for path in server.home.glob("memvault.db*"):
        path.unlink()

    done = server.cli("recall", "authentication", "--session", "previous", "-p", "shop", "--json")
    assert done.returncode == 0, done.stderr
    assert "answering from the replica" in done.stderr
    remote_hits = json.loads(done.stdout)
    assert sorted(hit["memory"]["id"] for hit in remote_hits) == sorted(auth_ids)
    assert {hit["memory"]["session_id"] for hit in remote_hits} == {"sess-a"}
    assert not list(server.home.glob("memvault.db*")), "a remote answer created an empty store"

    remote_session = server.cli_json("session", "show", "sess-a")
    assert remote_session["session"]["agent"] == "claude"
    assert remote_session["session"]["ended_at"] is not None
    assert [m["id"] for m in remote_session["memories"]] == [*auth_ids, pattern]

    # Date range: only sessions that started in it.
    in_range = server.cli_json("session", "list", "--project", "shop", "--since", started_b)
    assert [s["id"] for s in in_range] == ["sess-b"]
    both = server.cli_json("session", "list", "--project", "shop")
    assert [s["id"] for s in both] == ["sess-b", "sess-a"]

    assert server.cli_json("recall", "rate limiting", "--project", "billing") == []
    remote_across = server.cli_json("recall", "rate limiting", "-p", "billing", "--all-projects")
    assert [h["memory"]["project_id"] for h in remote_across] == ["shop"]

    projects = {p["id"]: p for p in server.cli_json("projects")}
    assert (projects["shop"]["memory_count"], projects["shop"]["session_count"]) == (6, 2)
