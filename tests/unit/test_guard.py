"""The command guard against a table of destructive commands (blocked) and benign ones (allowed),
kept in tests/data/guard/commands.json (bench/bench_guard.py times the same table).

Every row runs through `decide()` and, end to end, through the installed `memvault guard` console
script in each agent's hook format (Claude Code, Codex CLI, Gemini CLI), with a real store
created by LocalStore under a temporary HOME. The subprocess matrix runs once per module on a
small thread pool; each row then asserts its own answers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from memvault.safety.guard import decide
from memvault.safety.protected import ProtectedPaths
from memvault.store import LocalStore

MEMVAULT = Path(sys.executable).with_name("memvault")
AGENTS = ("claude-code", "codex-cli", "gemini-cli")

COMMANDS = json.loads(
    (Path(__file__).parents[1] / "data" / "guard" / "commands.json").read_text(encoding="utf-8")
)
BLOCKED: list[str] = COMMANDS["blocked"]
ALLOWED: list[str] = COMMANDS["allowed"]


@dataclass
class Site:
    """A HOME with a real store under ~/.local/share/memvault, and a project to work in."""

    home: Path
    data: Path
    project: Path
    env: dict[str, str]

    def protected(self) -> ProtectedPaths:
        return ProtectedPaths.for_home(self.data)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    root = tmp_path_factory.mktemp("guard")
    home = root / "home"
    data = home / ".local" / "share" / "memvault"
    project = root / "project"
    project.mkdir()
    store = LocalStore.open(data / "memvault.db")  # makes the folder, the file and its schema
    store.close()
    unset = ("XDG_DATA_HOME", "MEMVAULT_HOME", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    # Bytecode is cached (outside the tree) as an installed package's would be: without it, each
    # of the few hundred runs below would compile the guard's modules again.
    env.update(HOME=str(home), MEMVAULT_HOME=str(data), PYTHONPYCACHEPREFIX=str(root / "pyc"))
    return Site(home, data, project, env)


def payload(agent: str, command: str, cwd: Path) -> dict[str, Any]:
    """The hook input each agent sends before running a shell command."""
    if agent == "claude-code":
        return {
            "session_id": "5f0c1c9e",
            "transcript_path": str(cwd / ".claude" / "transcript.jsonl"),
            "cwd": str(cwd),
            "permission_mode": "default",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_input": {"command": command, "description": "run it", "timeout": 120000},
            "tool_use_id": "toolu_01ABC",
        }
    if agent == "codex-cli":
        return {
            "session_id": "0199a1b2",
            "turn_id": "turn-7",
            "transcript_path": None,
            "cwd": str(cwd),
            "hook_event_name": "PreToolUse",
            "model": "gpt-5-codex",
            "permission_mode": "default",
            "tool_name": "Bash",
            "tool_use_id": "call_42",
            "tool_input": {"command": command},
        }
    return {
        "session_id": "gem-1",
        "transcript_path": str(cwd / ".gemini" / "session.json"),
        "cwd": str(cwd),
        "hook_event_name": "BeforeTool",
        "timestamp": "2026-11-24T08:00:00Z",
        "tool_name": "run_shell_command",
        "tool_input": {"command": command, "description": "run it"},
    }


def run_guard(
    stdin: str, env: dict[str, str], cwd: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MEMVAULT), "guard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def answers(site: Site) -> dict[tuple[str, str], subprocess.CompletedProcess[str]]:
    """Every row in every agent's format, through the console script, four at a time."""
    assert MEMVAULT.exists(), f"the console script is not installed at {MEMVAULT}"
    cases = [(c, agent) for c in BLOCKED + ALLOWED for agent in AGENTS]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(
            lambda case: run_guard(
                json.dumps(payload(case[1], case[0], site.project)), site.env, site.project
            ),
            cases,
        )
        return dict(zip(cases, done, strict=True))


def test_the_table_is_big_enough() -> None:
    assert len(set(BLOCKED)) >= 40
    assert len(set(ALLOWED)) >= 25


@pytest.mark.parametrize("command", BLOCKED)
def test_destructive_command_is_blocked(command: str, site: Site) -> None:
    decision = decide(command, site.protected(), site.project, site.env)
    assert decision.blocked, f"not blocked: {command}"
    assert decision.reason is not None
    assert decision.reason.startswith("memvault guard: ")
    assert "memvault forget" in decision.reason  # tells the agent what to do instead


@pytest.mark.parametrize("command", ALLOWED)
def test_benign_command_is_allowed(command: str, site: Site) -> None:
    decision = decide(command, site.protected(), site.project, site.env)
    assert not decision.blocked, f"blocked: {command}: {decision.reason}"
    assert decision.reason is None


def _expected_reason(site: Site, command: str) -> str:
    reason = decide(command, site.protected(), site.project, site.env).reason
    assert reason is not None
    return reason


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("command", BLOCKED)
def test_each_agent_is_told_no_in_its_own_protocol(
    command: str, agent: str, site: Site, answers: dict[tuple[str, str], Any]
) -> None:
    done = answers[(command, agent)]
    reason = _expected_reason(site, command)
    if agent == "claude-code":
        assert done.returncode == 0, done.stderr
        output = json.loads(done.stdout)["hookSpecificOutput"]
        assert output == {
            "hookEventName": "PreToolUse",
            "permissionDecision": "deny",
            "permissionDecisionReason": reason,
        }
    else:  # Codex CLI and Gemini CLI: exit 2, the reason on stderr, nothing on stdout
        assert done.returncode == 2, done.stderr
        assert done.stdout == ""
        assert done.stderr.strip() == reason


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("command", ALLOWED)
def test_each_agent_is_let_through(
    command: str, agent: str, answers: dict[tuple[str, str], Any]
) -> None:
    done = answers[(command, agent)]
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout == ("{}\n" if agent == "gemini-cli" else "")  # Gemini wants JSON only


@pytest.mark.parametrize(
    ("stdin", "warning"),
    [
        ("not json at all", "not JSON"),
        ("", "not JSON"),
        ('["Bash", "rm -rf ~/.local/share/memvault"]', "not a JSON object"),
        ('{"hook_event_name": "SessionStart", "source": "startup"}', "not a Claude Code"),
        ('{"hook_event_name": "PreToolUse", "tool_name": "Write", "tool_input": {}}', "'Write'"),
        (
            '{"hook_event_name": "BeforeTool", "tool_name": "read_file", "tool_input": {}}',
            "read_file",
        ),
        ('{"hook_event_name": "PreToolUse", "tool_name": "Bash"}', "no tool_input"),
        (
            '{"hook_event_name": "PreToolUse", "tool_name": "Bash", "tool_input": {"command": 7}}',
            "no tool_input.command",
        ),
    ],
)
def test_malformed_input_is_allowed_with_one_warning(stdin: str, warning: str, site: Site) -> None:
    done = run_guard(stdin, site.env, site.project)
    assert done.returncode == 0
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    assert warning in lines[0]
    assert lines[0].endswith("allowed")


def test_gemini_dir_path_is_where_the_command_runs(site: Site) -> None:
    call = payload("gemini-cli", "rm -rf memvault", site.home)
    call["tool_input"]["dir_path"] = ".local/share"
    done = run_guard(json.dumps(call), site.env, site.project)
    assert done.returncode == 2
    assert str(site.data) in done.stderr


def test_symlinked_data_folder_is_resolved(tmp_path: Path, site: Site) -> None:
    real = tmp_path / "disk" / "memvault-data"
    LocalStore.open(real / "memvault.db").close()
    link = tmp_path / "link"
    link.symlink_to(real)
    env = {**site.env, "MEMVAULT_HOME": str(link)}
    protected = ProtectedPaths.for_home(link)
    for command in (
        f"rm -rf {real}",
        f"rm {link}/memvault.db",
        f"rm {real}/*",
        f"mv {real.parent} x",
    ):
        assert decide(command, protected, site.project, env).blocked, command
        done = run_guard(json.dumps(payload("codex-cli", command, site.project)), env, site.project)
        assert done.returncode == 2, command
        assert str(real) in done.stderr or f"{link}/memvault.db" in done.stderr
    assert not decide(f"ls {link} && cat {real}/memvault.db", protected, site.project, env).blocked


def test_the_store_named_in_dotenv_is_protected(tmp_path: Path, site: Site) -> None:
    data = tmp_path / "from-dotenv"
    LocalStore.open(data / "memvault.db").close()
    (tmp_path / ".env").write_text(f"# the project's store\nMEMVAULT_HOME='{data}'\n")
    env = {k: v for k, v in site.env.items() if k != "MEMVAULT_HOME"}
    done = run_guard(json.dumps(payload("gemini-cli", f"rm -rf {data}", tmp_path)), env, tmp_path)
    assert done.returncode == 2
    assert f"memvault's data folder {data}" in done.stderr
    allowed = run_guard(json.dumps(payload("gemini-cli", "rm -rf other", tmp_path)), env, tmp_path)
    assert allowed.returncode == 0


def test_home_option_names_the_folder_to_protect(tmp_path: Path, site: Site) -> None:
    elsewhere = tmp_path / "elsewhere"
    command = json.dumps(payload("codex-cli", f"rm -rf {elsewhere}", site.project))
    assert run_guard(command, site.env, site.project).returncode == 0
    assert run_guard(command, site.env, site.project, "--home", str(elsewhere)).returncode == 2
    through_typer = subprocess.run(  # the root option: this path builds the typer app
        [str(MEMVAULT), "--home", str(elsewhere), "guard"],
        input=command,
        capture_output=True,
        text=True,
        env=site.env,
        cwd=site.project,
        timeout=60,
        check=False,
    )
    assert through_typer.returncode == 2
    assert f"memvault's data folder {elsewhere}" in through_typer.stderr


def test_the_hook_path_never_builds_the_typer_app(site: Site) -> None:
    # -X importtime lists every module the real console script imports, on stderr.
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(MEMVAULT), "guard"],
        input=json.dumps(payload("claude-code", "ls", site.project)),
        capture_output=True,
        text=True,
        env=site.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines()}
    assert "memvault.safety.guard" in imported
    assert not imported & {"typer", "click", "rich", "pydantic", "memvault.config", "sqlite3"}


def test_guard_is_a_documented_command_of_the_cli(site: Site) -> None:
    done = subprocess.run(
        [str(MEMVAULT), "--help"],
        capture_output=True,
        text=True,
        env=site.env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert "guard" in done.stdout
