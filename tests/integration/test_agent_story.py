"""A Claude Code user's story, run with exactly what `memvault hooks install` wrote: the commands
in `~/.claude/settings.json` and the MCP server in `~/.claude.json`, the replica's settings in
the user's settings file, the real Neo4j.

1. install for Claude Code on a fresh HOME; 2. a session starts (its hook), the agent remembers
through MCP, the session ends (its hook); 3. the agent wipes the store with `rm -rf`; 4. the
next session's hook rebuilds the store from Neo4j and briefs the agent on what was decided.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from mcp_client import call

from .memvault_server import wait_for
from .neo4j_server import Neo4jServer, query

MEMVAULT = Path(sys.executable).with_name("memvault")
_SCRUBBED = ("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_", "XDG_")


def run_hook(command: str, payload: dict[str, Any], env: dict[str, str], cwd: Path) -> str:
    """Run a hook command as Claude Code does: through a shell, the event's JSON on stdin."""
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def remember_through_mcp(server: dict[str, Any], env: dict[str, str], cwd: Path) -> str:
    """Start the MCP server the way Claude Code would from its entry; remember one decision."""
    params = StdioServerParameters(
        command=server["command"], args=server["args"], env={**env, **server["env"]}, cwd=cwd
    )

    async def main() -> str:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            made = await call(
                session,
                "remember",
                content="Checkout totals are computed server-side, never in the browser",
                memory_type="strategic",
                importance=0.9,
            )
            return str(made["id"])

    return asyncio.run(asyncio.wait_for(main(), timeout=60))


def test_a_claude_code_user_is_protected_end_to_end(
    empty_replica: Neo4jServer, tmp_path: Path
) -> None:
    home, project = tmp_path / "home", tmp_path / "checkout"
    home.mkdir()
    project.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["HOME"] = str(home)
    # Step 1: the replica's settings in the user's file; memvault set up for Claude Code.
    user_settings = home / ".config" / "memvault" / "memvault.env"
    user_settings.parent.mkdir(parents=True)
    user_settings.write_text(
        "".join(f"{key}={value}\n" for key, value in empty_replica.client_env().items())
        + "MEMVAULT_EMBEDDINGS=none\n"
    )
    installed = subprocess.run(
        [str(MEMVAULT), "hooks", "install", "--agent", "claude"],
        env=env,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    hooks = json.loads((home / ".claude" / "settings.json").read_text())["hooks"]
    session_start = hooks["SessionStart"][0]["hooks"][0]["command"]
    session_end = hooks["SessionEnd"][0]["hooks"][0]["command"]
    mcp_server = json.loads((home / ".claude.json").read_text())["mcpServers"]["memvault"]

    # Step 2: a session — start hook, a decision through MCP, end hook.
    first = {"session_id": "cc-1", "cwd": str(project), "hook_event_name": "SessionStart"}
    run_hook(session_start, {**first, "source": "startup"}, env, project)
    memory_id = remember_through_mcp(mcp_server, env, project)
    run_hook(session_end, {**first, "hook_event_name": "SessionEnd"}, env, project)
    settings = empty_replica.settings(home / ".local" / "share" / "memvault")
    wait_for(
        lambda: bool(query(settings, "MATCH (m:Memory {id: $id}) RETURN m", id=memory_id)),
        what="the MCP write on the replica (memvault mcp pushes as it serves)",
        timeout=20,
    )

    # Step 3: the agent "cleans up".
    shutil.rmtree(home / ".local" / "share" / "memvault")

    # Step 4: the next session is rebuilt and briefed before its first turn.
    second = {"session_id": "cc-2", "cwd": str(project), "hook_event_name": "SessionStart"}
    out = run_hook(session_start, {**second, "source": "startup"}, env, project)

    context = json.loads(out)["hookSpecificOutput"]["additionalContext"]
    assert "the local store was missing; 1 memory was rebuilt" in context
    assert "Previous session cc-1 (claude-code, " in context
    assert "Checkout totals are computed server-side" in context
