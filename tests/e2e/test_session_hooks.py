"""The agents' session hooks through the installed console script, fed the JSON each agent sends:
a new session is briefed on the previous one, and a session end ends the agent's session."""

from __future__ import annotations

import json
from typing import Any

import pytest

from .test_cli import Cli, cli  # noqa: F401 - `cli` is the fixture `vault` builds on


@pytest.fixture
def vault(cli: Cli) -> Cli:  # noqa: F811
    # The payload's cwd names the project (a folder without git: its name).
    (cli.cwd / "shop").mkdir()
    return cli


def payload(runner: Cli, event: str, session_id: str, **extra: str) -> str:
    """What Claude Code sends a command hook (Codex CLI sends the same fields)."""
    return json.dumps(
        {
            "session_id": session_id,
            "transcript_path": str(runner.cwd / f"{session_id}.jsonl"),
            "cwd": str(runner.cwd / "shop"),
            "hook_event_name": event,
            **extra,
        }
    )


def start(runner: Cli, agent: str, session_id: str, **extra: str) -> str:
    """Run the session-start hook; returns the context it gives the agent."""
    stdin = payload(runner, "SessionStart", session_id, source="startup", **extra)
    out: dict[str, Any] = json.loads(
        runner.ok("hooks", "session-start", "--agent", agent, stdin=stdin)
    )
    assert set(out) == {"hookSpecificOutput"}
    specific = out["hookSpecificOutput"]
    assert specific["hookEventName"] == "SessionStart"
    return str(specific["additionalContext"])


def test_claude_session_start_is_briefed_on_the_previous_session(vault: Cli) -> None:
    first = start(vault, "claude", "claude-1")
    assert "No earlier session in this project." in first
    vault.remember(
        "Payments retry with idempotency keys", "--type", "strategic", "--project", "shop"
    )
    vault.remember(
        "Run the payment tests with make pay", "--importance", "0.9", "--project", "shop"
    )
    vault.ok("session", "end", "claude-1", "--summary", "Made payments idempotent")

    context = start(vault, "claude", "claude-2")

    assert "Previous session claude-1 (claude-code, ended" in context
    assert "Made payments idempotent" in context
    # Most important first.
    assert context.index("Run the payment tests") < context.index("Payments retry")
    current = vault.json("session", "current", "--project", "shop")
    assert (current["id"], current["agent"], current["project_id"]) == (
        "claude-2",
        "claude-code",
        "shop",
    )
    assert current["previous_id"] == "claude-1"


def test_session_end_ends_the_agents_session_and_the_next_one_sees_it(vault: Cli) -> None:
    start(vault, "gemini", "gemini-1")
    memory = vault.remember("The cache is keyed by tenant", "--project", "shop")
    end = payload(vault, "SessionEnd", "gemini-1", reason="exit")

    done = vault.run("hooks", "session-end", "--agent", "gemini", stdin=end)

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {}  # Gemini CLI reads stdout as JSON
    assert "no `memvault serve` answered" in done.stderr  # none runs here: said, not failed
    ended = vault.json("session", "show", "gemini-1")
    assert ended["session"]["ended_at"] is not None
    assert ended["session"]["agent"] == "gemini-cli"
    assert [m["id"] for m in ended["memories"]] == [memory]
    assert vault.run("session", "current", "--project", "shop").returncode == 1

    context = start(vault, "codex", "codex-1")
    assert "Previous session gemini-1 (gemini-cli, ended" in context
    assert "The cache is keyed by tenant" in context


def test_a_hook_never_breaks_the_agent(vault: Cli) -> None:
    garbled = vault.run("hooks", "session-start", "--agent", "claude", stdin="{not json")
    assert garbled.returncode == 0
    assert "hook input is not JSON" in garbled.stderr
    assert (
        "memvault: memory of project"
        in json.loads(garbled.stdout)["hookSpecificOutput"]["additionalContext"]
    )

    unknown = vault.run(
        "hooks", "session-end", "--agent", "claude", stdin=payload(vault, "SessionEnd", "nope")
    )
    assert unknown.returncode == 0
    assert "session nope not found" in unknown.stderr

    wrong_agent = vault.run("hooks", "session-start", "--agent", "cursor", stdin="{}")
    assert wrong_agent.returncode == 2
    assert "cursor" in wrong_agent.stderr
