"""The official MCP Inspector CLI (npm, pinned in tools/mcp-inspector) driving `memvault mcp`.

The inspector is `@modelcontextprotocol/inspector-cli`, installed from its lockfile by
`make test`. Each call below is a separate inspector process that starts its own
`memvault mcp`, so what one call stores must be found by the next through MEMVAULT_HOME.
Environment: the server inherits the inspector's environment (scrubbed of MEMVAULT_/NEO4J_/...
as in test_mcp_stdio), and MEMVAULT_HOME / MEMVAULT_EMBEDDINGS are given with the inspector's own
`-e KEY=VALUE`; XDG_DATA_HOME points at a folder the server must not touch, which is where it
would write if `-e` did not reach it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession

from e2e.test_mcp_stdio import _SCRUBBED, MEMVAULT, in_session

ROOT = Path(__file__).resolve().parents[2]
INSPECTOR = ROOT / "tools" / "mcp-inspector" / "node_modules" / ".bin" / "mcp-inspector-cli"
TIMEOUT = 60  # seconds for one inspector process (it takes ~1.5 s here)
KNOWN_TOOLS = {
    "remember",
    "recall",
    "get_memory",
    "update_memory",
    "forget",
    "list_sessions",
    "list_projects",
    "end_session",
    "sync_now",
    "get_sync_status",
    "check_destruction",
}


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        assert self.code == 0, f"inspector exited {self.code}: {self.stderr}"
        parsed: dict[str, Any] = json.loads(self.stdout)
        return parsed


def inspector(tmp_path: Path, *method: str, server: tuple[str, ...] = ("mcp",)) -> Run:
    """`mcp-inspector-cli --cli -e ... <memvault> <server...> <method...>` in a fresh home."""
    if not INSPECTOR.exists():
        pytest.fail(
            f"the MCP Inspector CLI is not installed at {INSPECTOR}: run `make test` "
            "(it runs `npm ci --prefix tools/mcp-inspector`)"
        )
    assert MEMVAULT.exists(), f"the console script is not installed at {MEMVAULT}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user settings file
    cwd = tmp_path / "work"  # no .env here for memvault to read
    cwd.mkdir(exist_ok=True)
    home = f"MEMVAULT_HOME={tmp_path / 'home'}"
    argv = [str(INSPECTOR), "--cli", "-e", home, "-e", "MEMVAULT_EMBEDDINGS=none"]
    argv += [str(MEMVAULT), *server, *method]
    # The inspector starts node, which starts memvault: a session of their own lets a timeout
    # end all three.
    with subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            pytest.fail(f"inspector did not finish in {TIMEOUT}s: {argv}\n{stdout}\n{stderr}")
    return Run(proc.returncode, stdout, stderr)


def call(tmp_path: Path, tool: str, *args: str) -> dict[str, Any]:
    """`--method tools/call` with `--tool-arg` for each `key=value` in args: the CallToolResult."""
    method = ["--method", "tools/call", "--tool-name", tool]
    for arg in args:
        method += ["--tool-arg", arg]
    return inspector(tmp_path, *method).json()


def text(result: dict[str, Any]) -> str:
    return " ".join(part["text"] for part in result["content"] if part["type"] == "text")


def test_tools_list_matches_what_the_python_client_sees(tmp_path: Path) -> None:
    listed = inspector(tmp_path, "--method", "tools/list").json()

    async def work(session: ClientSession) -> dict[str, dict[str, Any]]:
        tools = (await session.list_tools()).tools
        return {tool.name: tool.model_dump(mode="json", by_alias=True) for tool in tools}

    expected = in_session(tmp_path, work)

    seen = {tool["name"]: tool for tool in listed["tools"]}
    assert KNOWN_TOOLS.issubset(seen), KNOWN_TOOLS - set(seen)
    assert set(seen) == set(expected)
    for name, tool in seen.items():
        assert tool["description"] == expected[name]["description"], name
        assert tool["inputSchema"] == expected[name]["inputSchema"], name
    assert seen["remember"]["inputSchema"]["required"] == ["content"]
    assert seen["forget"]["annotations"]["destructiveHint"] is True


def test_remember_then_recall_in_another_inspector_process(tmp_path: Path) -> None:
    made = call(
        tmp_path,
        "remember",
        "content=Deploys go through the blue-green pipeline",
        "project_id=shop",
        'tags=["deploy","ci"]',  # JSON text: the inspector sends it as a string, the SDK parses it
        "importance=0.8",  # a number in the schema, so the inspector sends a number
    )
    assert made["isError"] is False, text(made)
    memory = made["structuredContent"]
    assert memory["content"] == "Deploys go through the blue-green pipeline"
    assert memory["project_id"] == "shop"
    assert memory["tags"] == ["deploy", "ci"]
    assert memory["importance"] == 0.8

    # -e MEMVAULT_HOME reached the server; the default data folder was never used.
    assert (tmp_path / "home" / "memvault.db").is_file()
    assert not (tmp_path / "xdg").exists()

    found = call(tmp_path, "recall", "query=blue-green", "project_id=shop")
    elsewhere = call(tmp_path, "recall", "query=blue-green", "project_id=elsewhere")
    got = call(tmp_path, "get_memory", f"id={memory['id']}")

    assert found["isError"] is False, text(found)
    assert [hit["memory"]["id"] for hit in found["structuredContent"]["hits"]] == [memory["id"]]
    assert elsewhere["structuredContent"] == {"hits": []}
    assert got["structuredContent"]["tags"] == ["deploy", "ci"]
    assert got["structuredContent"]["sync_version"] == 1


def test_a_tool_error_is_an_error_result_and_a_dead_server_a_failed_run(
    tmp_path: Path,
) -> None:
    bad = call(tmp_path, "get_memory", "id=not-a-uuid")  # .json() asserted exit code 0

    assert bad["isError"] is True
    assert "'not-a-uuid' is not a valid UUID" in text(bad)
    assert "structuredContent" not in bad

    # A server that never speaks MCP is the inspector's failure (exit 1), not a result.
    dead = inspector(tmp_path, "--method", "tools/list", server=("no-such-command",))
    assert dead.code == 1
    assert "Failed to connect to MCP server" in dead.stderr
    assert dead.stdout.strip() == ""
