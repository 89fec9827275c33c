"""`memvault hooks install` / `uninstall`: the real console script on a temporary HOME and project.

Each test runs the installed `memvault` in a subprocess with HOME pointing at a temp folder, then
reads the agents' settings files back as the agents would (json, tomllib).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

MEMVAULT = Path(sys.executable).with_name("memvault")
PROGRAM = str(MEMVAULT.absolute())  # what the hooks and the MCP entry must run
# Variables that would point the CLI at the developer's own store, services or agent folders.
_SCRUBBED = (
    *("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_"),
    *("CLAUDE_CONFIG_DIR", "CODEX_HOME"),
)
AGENTS = ("claude", "codex", "gemini")
SCOPES = ("user", "project")


@dataclass
class Setup:
    """A temporary HOME and project folder, and the CLI run against them."""

    home: Path
    project: Path
    env: dict[str, str]

    def run(
        self, *args: str, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(MEMVAULT), "hooks", *args],
            capture_output=True,
            text=True,
            cwd=self.project,
            env={**self.env, **(extra_env or {})},
            timeout=60,
            check=False,
        )

    def ok(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, f"{args} failed: {done.stderr}"
        return done.stdout

    def base(self, scope: str) -> Path:
        return self.home if scope == "user" else self.project

    def scope_args(self, agent: str, scope: str) -> list[str]:
        args = ["--agent", agent, "--scope", scope]
        return [*args, "--project-dir", str(self.project)] if scope == "project" else args


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    assert MEMVAULT.exists(), f"the console script is not installed at {MEMVAULT}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    env["HOME"] = str(home)
    env.pop("XDG_CONFIG_HOME", None)  # the user settings file is under the temporary HOME
    return Setup(home=home, project=project, env=env)


def files_of(agent: str, scope: str, base: Path) -> dict[str, Path]:
    """Where each agent keeps its MCP servers and hooks, by scope (from the agents' docs)."""
    if agent == "claude":
        mcp = base / (".claude.json" if scope == "user" else ".mcp.json")
        return {"mcp": mcp, "hooks": base / ".claude" / "settings.json"}
    if agent == "codex":
        return {"mcp": base / ".codex" / "config.toml", "hooks": base / ".codex" / "hooks.json"}
    settings = base / ".gemini" / "settings.json"
    return {"mcp": settings, "hooks": settings}


def load(path: Path) -> dict[str, Any]:
    text = path.read_text(encoding="utf-8")
    return tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)


def handler(agent: str, kind: str, timeout: int) -> dict[str, Any]:
    command = f"{PROGRAM} guard" if kind == "guard" else f"{PROGRAM} hooks {kind} --agent {agent}"
    entry = {"type": "command", "command": command, "timeout": timeout}
    return {"name": f"memvault-{kind}", **entry} if agent == "gemini" else entry


def expected_hooks(agent: str) -> dict[str, Any]:
    if agent == "gemini":  # timeouts in milliseconds; the shell tool is run_shell_command
        start, end = handler(agent, "session-start", 30000), handler(agent, "session-end", 5000)
        return {
            "SessionStart": [{"hooks": [start]}],
            "SessionEnd": [{"hooks": [end]}],
            "BeforeTool": [
                {"matcher": "run_shell_command", "hooks": [handler(agent, "guard", 5000)]}
            ],
        }
    end_timeout = 3 if agent == "codex" else 5  # Codex caps SessionEnd hooks at 3 s
    return {
        "SessionStart": [{"hooks": [handler(agent, "session-start", 30)]}],
        "SessionEnd": [{"hooks": [handler(agent, "session-end", end_timeout)]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [handler(agent, "guard", 5)]}],
    }


def expected_server(agent: str) -> dict[str, Any]:
    if agent == "claude":
        return {"type": "stdio", "command": PROGRAM, "args": ["mcp"], "env": {}}
    return {"command": PROGRAM, "args": ["mcp"]}


def memvault_commands(hooks: dict[str, Any]) -> list[str]:
    return [
        h["command"]
        for groups in hooks.values()
        for group in groups
        for h in group["hooks"]
        if "memvault" in h["command"]
    ]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("agent", AGENTS)
def test_install_writes_exactly_memvaults_entries(setup: Setup, agent: str, scope: str) -> None:
    out = setup.ok("install", *setup.scope_args(agent, scope))

    paths = files_of(agent, scope, setup.base(scope))
    for path in set(paths.values()):
        assert str(path) in out, f"the output names {path}"
    if agent == "gemini":
        assert load(paths["hooks"]) == {
            "mcpServers": {"memvault": expected_server(agent)},
            "hooks": expected_hooks(agent),
        }
    elif agent == "codex":
        assert load(paths["mcp"]) == {"mcp_servers": {"memvault": expected_server(agent)}}
        assert load(paths["hooks"]) == {"hooks": expected_hooks(agent)}
    else:
        assert load(paths["mcp"]) == {"mcpServers": {"memvault": expected_server(agent)}}
        assert load(paths["hooks"]) == {"hooks": expected_hooks(agent)}
    other = setup.base("project" if scope == "user" else "user")
    assert list(other.iterdir()) == [], "the other scope's folder is untouched"


# Settings a user already has: other hooks on memvault's events (one in a group with the same
# matcher), other MCP servers, unrelated keys, and in TOML a comment.
CLAUDE_SETTINGS = {
    "model": "opus",
    "permissions": {"allow": ["Bash(npm test)"]},
    "hooks": {
        "PreToolUse": [
            {"matcher": "Bash", "hooks": [{"type": "command", "command": "lint-shell"}]},
            {"matcher": "Edit", "hooks": [{"type": "command", "command": "fmt"}]},
        ],
        "SessionStart": [{"hooks": [{"type": "command", "command": "echo hello"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
    },
}
CLAUDE_MCP = {
    "numStartups": 12,
    "mcpServers": {"github": {"type": "stdio", "command": "gh-mcp", "args": [], "env": {}}},
}
GEMINI_SETTINGS = {
    "theme": "Dracula",
    "mcpServers": {"github": {"command": "gh-mcp", "args": ["--stdio"]}},
    "hooks": {
        "BeforeTool": [
            {"matcher": "run_shell_command", "hooks": [{"type": "command", "command": "audit"}]}
        ],
        "SessionEnd": [{"hooks": [{"name": "bye", "type": "command", "command": "echo bye"}]}],
    },
}
CODEX_HOOKS = {
    "hooks": {
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "audit"}]}],
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send turn"}]}],
    }
}
CODEX_CONFIG = """\
# my Codex settings: keep this comment
model = "o3"  # the model I like

[mcp_servers.github]
command = "gh-mcp"
args = ["--stdio"]

[profiles.fast]
model = "o4-mini"
"""


def seed(agent: str, paths: dict[str, Path]) -> dict[Path, str]:
    """Write a user's existing settings (JSON indented by 4); return each file's text."""
    texts: dict[Path, str] = {}
    if agent == "claude":
        texts[paths["hooks"]] = json.dumps(CLAUDE_SETTINGS, indent=4) + "\n"
        texts[paths["mcp"]] = json.dumps(CLAUDE_MCP, indent=4) + "\n"
    elif agent == "gemini":
        texts[paths["hooks"]] = json.dumps(GEMINI_SETTINGS, indent=4) + "\n"
    else:
        texts[paths["hooks"]] = json.dumps(CODEX_HOOKS, indent=4) + "\n"
        texts[paths["mcp"]] = CODEX_CONFIG
    for path, text in texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return texts


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize("agent", AGENTS)
def test_install_merges_is_idempotent_and_uninstall_restores(
    setup: Setup, agent: str, scope: str
) -> None:
    paths = files_of(agent, scope, setup.base(scope))
    original = seed(agent, paths)
    args = setup.scope_args(agent, scope)

    setup.ok("install", *args)
    hooks_data, mcp_data = load(paths["hooks"]), load(paths["mcp"])
    servers = mcp_data["mcp_servers" if agent == "codex" else "mcpServers"]
    assert servers["memvault"] == expected_server(agent)
    assert servers["github"]["command"] == "gh-mcp", "other MCP servers stay"
    wanted = expected_hooks(agent)
    for event, groups in wanted.items():
        ours = [g for g in hooks_data["hooks"][event] if g["hooks"] == groups[0]["hooks"]]
        assert ours == groups, f"memvault's {event} entry, exactly once"
    assert sorted(memvault_commands(hooks_data["hooks"])) == sorted(memvault_commands(wanted)), (
        "no other memvault entries"
    )
    for path, text in original.items():
        before = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        after = load(path)
        for key, value in before.items():
            if key not in ("hooks", "mcpServers", "mcp_servers"):
                assert after[key] == value, f"{path}: {key} is kept"
        for event, groups in before.get("hooks", {}).items():
            for group in groups:
                assert group in after["hooks"][event], f"{path}: the user's {event} hook stays"
        if path.suffix == ".json":
            assert path.read_text().startswith('{\n    "'), "the file keeps its 4-space indent"
    if agent == "codex":
        table = f'[mcp_servers.memvault]\ncommand = {json.dumps(PROGRAM)}\nargs = ["mcp"]\n\n'
        assert paths["mcp"].read_text() == CODEX_CONFIG.replace(
            "[profiles.fast]", table + "[profiles.fast]"
        ), "comments and layout are kept; the table joins the other MCP servers"

    written = {path: path.read_bytes() for path in set(paths.values())}
    again = setup.ok("install", *args)
    assert "already installed" in again
    assert {path: path.read_bytes() for path in written} == written, "byte-identical"

    setup.ok("uninstall", *args)
    for path, text in original.items():
        if path.suffix == ".toml":
            assert path.read_text() == text, "the TOML file is back to its original bytes"
        else:
            assert load(path) == json.loads(text), f"{path}: only memvault's entries removed"
    assert "not installed" in setup.ok("uninstall", *args)


@pytest.mark.parametrize(
    "text",
    [
        'model = "o3"  # keys only\n',
        "# nothing but a comment\n",
        '[mcp_servers.github]\ncommand = "gh-mcp"\n',
        '[mcp_servers]\n\n[mcp_servers.github]\ncommand = "gh-mcp"\n\n[profiles.x]\nmodel = "y"\n',
    ],
)
def test_codex_config_round_trips_byte_for_byte(setup: Setup, text: str) -> None:
    config = setup.home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text(text)

    setup.ok("install", "--agent", "codex")
    assert tomllib.loads(config.read_text())["mcp_servers"]["memvault"] == expected_server("codex")
    setup.ok("uninstall", "--agent", "codex")

    assert config.read_text() == text


@pytest.mark.parametrize("agent", AGENTS)
def test_uninstall_removes_the_files_install_created(setup: Setup, agent: str) -> None:
    setup.ok("install", "--agent", agent)
    paths = files_of(agent, "user", setup.home)
    assert all(path.exists() for path in paths.values())

    out = setup.ok("install", "--uninstall", "--agent", agent)  # the same as `uninstall`

    assert "removed" in out
    assert not any(path.exists() for path in paths.values())


def test_reinstall_after_moving_the_venv_replaces_old_entries(setup: Setup) -> None:
    old = "/old/venv/bin/memvault"
    settings = setup.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    user_hook = {"type": "command", "command": "lint-shell"}
    settings.write_text(
        json.dumps(
            {
                "hooks": {
                    "PreToolUse": [
                        {"matcher": "Bash", "hooks": [user_hook, {"command": f"{old} guard"}]}
                    ],
                    "SessionStart": [
                        {
                            "matcher": "startup",
                            "hooks": [{"command": "'/a b/memvault' hooks session-start"}],
                        }
                    ],
                    "SessionEnd": [{"hooks": [{"command": f"{old} hooks session-end"}]}],
                }
            }
        )
    )
    claude_json = setup.home / ".claude.json"
    claude_json.write_text(
        json.dumps({"mcpServers": {"memvault": {"command": old, "env": {"NEO4J_PASSWORD": "pw"}}}})
    )

    setup.ok("install", "--agent", "claude")

    hooks = load(settings)["hooks"]
    assert hooks["PreToolUse"] == [
        {"matcher": "Bash", "hooks": [user_hook, handler("claude", "guard", 5)]}
    ], "replaced where it stood, next to the user's hook"
    assert hooks["SessionStart"] == [{"hooks": [handler("claude", "session-start", 30)]}]
    assert hooks["SessionEnd"] == [{"hooks": [handler("claude", "session-end", 5)]}]
    server = load(claude_json)["mcpServers"]["memvault"]
    assert server == {**expected_server("claude"), "env": {"NEO4J_PASSWORD": "pw"}}


MALFORMED = {
    "claude": (".claude/settings.json", '{"hooks": {"PreToolUse": [}'),
    "gemini": (".gemini/settings.json", '{\n  // a comment\n  "theme": "x"\n}\n'),
    "codex": (".codex/config.toml", '[mcp_servers.github\ncommand = "gh-mcp"\n'),
}


@pytest.mark.parametrize("agent", AGENTS)
def test_malformed_settings_exit_2_naming_the_file_and_change_nothing(
    setup: Setup, agent: str
) -> None:
    relative, text = MALFORMED[agent]
    broken = setup.home / relative
    broken.parent.mkdir(parents=True)
    broken.write_text(text)

    for action in ("install", "uninstall"):
        done = setup.run(action, "--agent", agent)
        assert done.returncode == 2, done.stderr
        assert str(broken) in done.stderr
        assert "fix" in done.stderr
        assert broken.read_text() == text
    created = sorted(p for p in setup.home.rglob("*") if p.is_file())
    assert created == [broken], "no other file was written"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent", "cursor"], "unknown agent 'cursor'"),
        (["--agent", "claude", "--scope", "global"], "unknown scope 'global'"),
        (["--agent", "claude", "--project-dir", "."], "--scope project"),
        (["--agent", "claude", "--scope", "project", "--project-dir", "nowhere"], "not a folder"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(setup: Setup, args: list[str], message: str) -> None:
    done = setup.run("install", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert list(setup.home.iterdir()) == []
    assert list(setup.project.iterdir()) == []


def test_json_report_and_project_scope_defaults_to_the_current_folder(setup: Setup) -> None:
    report = json.loads(setup.ok("install", "--agent", "codex", "--scope", "project", "--json"))

    config, hooks = (
        setup.project / ".codex" / "config.toml",
        setup.project / ".codex" / "hooks.json",
    )
    assert report["action"] == "install"
    assert (report["agent"], report["scope"], report["changed"]) == ("codex", "project", True)
    assert report["commands"] == {
        "session-start": f"{PROGRAM} hooks session-start --agent codex",
        "session-end": f"{PROGRAM} hooks session-end --agent codex",
        "guard": f"{PROGRAM} guard",
        "mcp": f"{PROGRAM} mcp",
    }
    assert [(f["path"], f["action"]) for f in report["files"]] == [
        (str(config), "created"),
        (str(hooks), "created"),
    ]
    again = json.loads(setup.ok("install", "--agent", "codex", "--scope", "project", "--json"))
    assert again["changed"] is False
    assert {f["action"] for f in again["files"]} == {"unchanged"}


def test_codex_home_and_claude_config_dir_move_the_user_files(setup: Setup, tmp_path: Path) -> None:
    codex_home, claude_dir = tmp_path / "codex-home", tmp_path / "claude-dir"
    moved = {"CODEX_HOME": str(codex_home), "CLAUDE_CONFIG_DIR": str(claude_dir)}
    for agent in ("codex", "claude"):
        done = setup.run("install", "--agent", agent, extra_env=moved)
        assert done.returncode == 0, done.stderr

    assert load(codex_home / "config.toml")["mcp_servers"]["memvault"]["args"] == ["mcp"]
    assert load(codex_home / "hooks.json") == {"hooks": expected_hooks("codex")}
    assert load(claude_dir / ".claude.json")["mcpServers"]["memvault"]["command"] == PROGRAM
    assert load(claude_dir / "settings.json") == {"hooks": expected_hooks("claude")}
    assert list(setup.home.iterdir()) == []


@pytest.mark.parametrize(
    ("agent", "relative", "text", "switch"),
    [
        ("gemini", ".gemini/settings.json", '{"hooksConfig": {"enabled": false}}', "hooksConfig"),
        ("codex", ".codex/config.toml", "[features]\nhooks = false\n", "features"),
        ("claude", ".claude/settings.json", '{"disableAllHooks": true}', "disableAllHooks"),
    ],
)
def test_hooks_switched_off_in_settings_are_warned_about_not_overridden(
    setup: Setup, agent: str, relative: str, text: str, switch: str
) -> None:
    path = setup.home / relative
    path.parent.mkdir(parents=True)
    path.write_text(text)

    done = setup.run("install", "--agent", agent)

    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, done.stderr
    assert str(path) in warnings[0]
    original = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    assert load(path)[switch] == original[switch], "the user's switch is left as it was"
    assert load(files_of(agent, "user", setup.home)["hooks"])["hooks"] == expected_hooks(agent)


def test_a_symlinked_settings_file_stays_a_symlink(setup: Setup, tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles" / "settings.json"
    dotfiles.parent.mkdir()
    dotfiles.write_text('{"model": "opus"}\n')
    link = setup.home / ".claude" / "settings.json"
    link.parent.mkdir()
    link.symlink_to(dotfiles)

    setup.ok("install", "--agent", "claude")
    assert link.is_symlink()
    assert load(dotfiles) == {"model": "opus", "hooks": expected_hooks("claude")}

    setup.ok("uninstall", "--agent", "claude")
    assert link.is_symlink()
    assert load(dotfiles) == {"model": "opus"}


GUARD_EVENT = {"claude": "PreToolUse", "codex": "PreToolUse", "gemini": "BeforeTool"}
SHELL_TOOL = {"claude": "Bash", "codex": "Bash", "gemini": "run_shell_command"}


@pytest.mark.parametrize("agent", AGENTS)
def test_the_registered_commands_run_as_the_agent_runs_them(
    setup: Setup, agent: str, tmp_path: Path
) -> None:
    setup.ok("install", "--agent", agent)
    hooks = load(files_of(agent, "user", setup.home)["hooks"])["hooks"]
    store = tmp_path / "store"
    with socket.socket() as probe:  # session end nudges `memvault serve`: let none answer
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**setup.env, "MEMVAULT_HOME": str(store), "MEMVAULT_PORT": str(port)}

    def run_hook(event: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        (command,) = memvault_commands({event: hooks[event]})
        base = {"session_id": f"{agent}-1", "cwd": str(setup.project), "hook_event_name": event}
        return subprocess.run(
            ["sh", "-c", command],  # agents run a hook's command through a shell
            input=json.dumps({**base, **payload}),
            capture_output=True,
            text=True,
            cwd=setup.project,
            env=env,
            timeout=60,
            check=False,
        )

    started = run_hook("SessionStart", {"source": "startup"})
    assert started.returncode == 0, started.stderr
    assert "additionalContext" in json.loads(started.stdout)["hookSpecificOutput"]

    wipe = {"tool_name": SHELL_TOOL[agent], "tool_input": {"command": f"rm -rf {store}"}}
    if agent == "codex":
        wipe["turn_id"] = "t1"
    blocked = run_hook(GUARD_EVENT[agent], wipe)
    assert blocked.returncode == 2 or '"deny"' in blocked.stdout, blocked
    allowed = run_hook(GUARD_EVENT[agent], {**wipe, "tool_input": {"command": "ls"}})
    assert allowed.returncode == 0
    assert '"deny"' not in allowed.stdout

    ended = run_hook("SessionEnd", {"reason": "exit"})
    assert ended.returncode == 0, ended.stderr
