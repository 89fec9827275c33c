"""`memvault hooks install` / `uninstall`: register memvault's MCP server and hooks with an agent.

What each agent reads (from their documentation and source, checked 2026-12):

- Claude Code: hooks in `~/.claude/settings.json` or `<project>/.claude/settings.json`,
  `{"hooks": {Event: [{"matcher"?, "hooks": [{"type": "command", "command", "timeout"}]}]}}`
  with timeouts in seconds; MCP servers where `claude mcp add --scope user|project` puts them:
  `~/.claude.json` or `<project>/.mcp.json`. `CLAUDE_CONFIG_DIR` moves both user files.
- Codex CLI: MCP servers in `config.toml` as `[mcp_servers.NAME]` (`~/.codex`, or `$CODEX_HOME`,
  or `<project>/.codex`); hooks in `hooks.json` beside it, in Claude's shape, timeouts in
  seconds. Hooks are stable and on by default: the `[features] hooks` key needs no setting, and
  its old alias `codex_hooks` prints a deprecation notice every session, so memvault sets
  neither. `SessionEnd` fires when the root thread closes and is capped at 3 s; `Stop` ends a
  turn, not a session, and is not used.
- Gemini CLI: one `settings.json` (`~/.gemini` or `<project>/.gemini`) holds `mcpServers` and
  `hooks` (Claude's shape; `BeforeTool` with the shell tool `run_shell_command`; timeouts in
  milliseconds; `name` identifies a hook for `/hooks disable`). Hooks are on by default
  (`hooksConfig.enabled`).

memvault's own entries are recognised by their command (a program named `memvault` followed by
`hooks session-start`, `hooks session-end` or `guard`, wherever it lives) and by the MCP server
name `memvault`; everything else in these files is kept as it was.
"""

from __future__ import annotations

import copy
import os
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tomlkit.toml_document import TOMLDocument

from memvault.errors import InvalidInputError
from memvault.integrations import agent_files as files
from memvault.integrations.agent_files import GUARD, SESSION_END, SESSION_START, JsonObject

AGENTS = {"claude": "Claude Code", "codex": "Codex CLI", "gemini": "Gemini CLI"}
SCOPES = ("user", "project")


@dataclass(frozen=True)
class HookSpec:
    """One hook memvault registers: on which event, for which tool, running what, how long."""

    event: str
    matcher: str | None
    kind: str
    timeout: int  # in the agent's unit


# Session start may first rebuild a missing store from the replica, hence the long budget.
HOOKS = {
    "claude": (
        HookSpec("SessionStart", None, SESSION_START, 30),
        HookSpec("SessionEnd", None, SESSION_END, 5),
        HookSpec("PreToolUse", "Bash", GUARD, 5),
    ),
    "codex": (
        HookSpec("SessionStart", None, SESSION_START, 30),
        # Codex clamps SessionEnd hooks to 3 s and warns on every start about a larger value.
        HookSpec("SessionEnd", None, SESSION_END, 3),
        HookSpec("PreToolUse", "Bash", GUARD, 5),
    ),
    "gemini": (
        HookSpec("SessionStart", None, SESSION_START, 30_000),
        HookSpec("SessionEnd", None, SESSION_END, 5_000),
        HookSpec("BeforeTool", "run_shell_command", GUARD, 5_000),
    ),
}


def hook_command(memvault: str, kind: str, agent: str) -> str:
    """The shell command of one memvault hook."""
    program = shlex.quote(memvault)
    return f"{program} guard" if kind == GUARD else f"{program} hooks {kind} --agent {agent}"


@dataclass
class FileChange:
    """One settings file: its text before and after (None: absent), and memvault's entries."""

    path: Path
    before: str | None
    after: str | None
    entries: list[str]

    @property
    def action(self) -> str:
        """created, updated, removed or unchanged."""
        if self.before == self.after:
            return "unchanged"
        if self.after is None:
            return "removed"
        return "created" if self.before is None else "updated"


@dataclass
class SetupReport:
    """What `install` / `uninstall` did for one agent and scope."""

    action: str
    agent: str
    scope: str
    memvault: str
    commands: dict[str, str]
    files: list[FileChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether any file was written or removed."""
        return any(change.action != "unchanged" for change in self.files)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "action": self.action,
            "agent": self.agent,
            "agent_name": AGENTS[self.agent],
            "scope": self.scope,
            "changed": self.changed,
            "memvault": self.memvault,
            "commands": self.commands,
            "files": [
                {"path": str(c.path), "action": c.action, "entries": c.entries} for c in self.files
            ],
            "warnings": self.warnings,
        }


def _json_change(
    path: Path, install: bool, entries: list[str], edit: Callable[[JsonObject], None]
) -> FileChange:
    data, text = files.read_json(path)
    updated = copy.deepcopy(data)
    edit(updated)
    if updated == data:
        return FileChange(path, text, text, entries)
    if not updated and not install and not path.is_symlink():
        return FileChange(path, text, None, entries)  # memvault emptied it: remove the file
    return FileChange(path, text, files.dump_json(updated, text), entries)


def _toml_change(
    path: Path, install: bool, entries: list[str], edit: Callable[[TOMLDocument], None]
) -> FileChange:
    doc, text = files.read_toml(path)
    before = doc.as_string()
    edit(doc)
    after = doc.as_string()
    if after == before:
        return FileChange(path, text, text, entries)
    if not install:
        # The blank line tomlkit put before memvault's table outlives the table.
        after = re.sub(r"\n{2,}\Z", "\n", after)
        if not after.strip() and not path.is_symlink():
            return FileChange(path, text, None, entries)
    return FileChange(path, text, after, entries)


def _hook_entries(specs: tuple[HookSpec, ...]) -> list[str]:
    return [f"hooks.{s.event}" + (f"[{s.matcher}]" if s.matcher else "") for s in specs]


def _plan(report: SetupReport, base: Path, env: Mapping[str, str]) -> None:
    """Read every file and work out its new text; nothing is written here."""
    agent, install, memvault = report.agent, report.action == "install", report.memvault
    specs = HOOKS[agent]
    wanted = []
    for spec in specs:
        # Gemini names hooks so that `/hooks disable memvault-guard` can switch one off.
        handler: JsonObject = {"name": f"memvault-{spec.kind}"} if agent == "gemini" else {}
        handler |= {"type": "command", "command": report.commands[spec.kind]}
        handler["timeout"] = spec.timeout
        wanted.append(files.HookEntry(spec.event, spec.matcher, handler))
    user = report.scope == "user"

    def hooks_edit(path: Path) -> Callable[[JsonObject], None]:
        return lambda data: (
            files.add_hooks(data, wanted, path) if install else files.remove_hooks(data, path)
        )

    if agent == "codex":
        folder = Path(env["CODEX_HOME"]) if user and env.get("CODEX_HOME") else base / ".codex"
        config, hooks_file = folder / "config.toml", folder / "hooks.json"

        def toml_edit(doc: TOMLDocument) -> None:
            if not install:
                files.remove_mcp_toml(doc, config)
                return
            files.add_mcp_toml(doc, memvault, config)
            features = doc.get("features")
            for key in ("hooks", "codex_hooks"):
                if isinstance(features, Mapping) and features.get(key) is False:
                    report.warnings.append(
                        f"{config}: `[features] {key} = false` turns Codex's hooks off; "
                        "memvault's hooks will not run until you remove it"
                    )

        report.files.append(_toml_change(config, install, ["mcp_servers.memvault"], toml_edit))
        report.files.append(
            _json_change(hooks_file, install, _hook_entries(specs), hooks_edit(hooks_file))
        )
        return

    if agent == "gemini":
        settings = base / ".gemini" / "settings.json"

        def gemini_edit(data: JsonObject) -> None:
            if not install:
                files.remove_mcp_json(data, settings)
                files.remove_hooks(data, settings)
                return
            files.add_mcp_json(data, {"command": memvault, "args": ["mcp"]}, settings)
            files.add_hooks(data, wanted, settings)
            switch = data.get("hooksConfig")
            if isinstance(switch, dict) and switch.get("enabled") is False:
                report.warnings.append(
                    f"{settings}: `hooksConfig.enabled` is false, which turns Gemini CLI's "
                    "hooks off; memvault's hooks will not run until you set it to true"
                )

        entries = ["mcpServers.memvault", *_hook_entries(specs)]
        report.files.append(_json_change(settings, install, entries, gemini_edit))
        return

    config_dir = env.get("CLAUDE_CONFIG_DIR") if user else None
    if config_dir:
        mcp_file, settings = Path(config_dir) / ".claude.json", Path(config_dir) / "settings.json"
    elif user:
        mcp_file, settings = base / ".claude.json", base / ".claude" / "settings.json"
    else:
        mcp_file, settings = base / ".mcp.json", base / ".claude" / "settings.json"

    def claude_mcp_edit(data: JsonObject) -> None:
        if install:
            # What `claude mcp add --scope user|project memvault -- memvault mcp` writes.
            entry = {"type": "stdio", "command": memvault, "args": ["mcp"]}
            files.add_mcp_json(data, entry, mcp_file, defaults={"env": {}})
        else:
            files.remove_mcp_json(data, mcp_file)

    def claude_hooks_edit(data: JsonObject) -> None:
        hooks_edit(settings)(data)
        if install and data.get("disableAllHooks") is True:
            report.warnings.append(
                f"{settings}: `disableAllHooks` is true; memvault's hooks will not run until "
                "you remove it"
            )

    report.files.append(_json_change(mcp_file, install, ["mcpServers.memvault"], claude_mcp_edit))
    report.files.append(_json_change(settings, install, _hook_entries(specs), claude_hooks_edit))


def install(
    agent: str,
    scope: str = "user",
    project_dir: Path | None = None,
    *,
    home: Path | None = None,
    memvault: str | None = None,
    env: Mapping[str, str] | None = None,
) -> SetupReport:
    """Register memvault's MCP server and hooks with `agent`, merged into the user's settings;
    running it again changes nothing. Every file is read and checked before the first one is
    written, so bad input changes nothing."""
    return _run("install", agent, scope, project_dir, home, memvault, env)


def uninstall(
    agent: str,
    scope: str = "user",
    project_dir: Path | None = None,
    *,
    home: Path | None = None,
    memvault: str | None = None,
    env: Mapping[str, str] | None = None,
) -> SetupReport:
    """Remove memvault's MCP server and hooks from `agent`'s settings, and nothing else."""
    return _run("uninstall", agent, scope, project_dir, home, memvault, env)


def _run(
    action: str,
    agent: str,
    scope: str,
    project_dir: Path | None,
    home: Path | None,
    memvault: str | None,
    env: Mapping[str, str] | None,
) -> SetupReport:
    problems = []
    if agent not in AGENTS:
        choices = ", ".join(AGENTS)
        problems.append({"field": "--agent", "message": f"unknown agent {agent!r}; use {choices}"})
    if scope not in SCOPES:
        problems.append(
            {"field": "--scope", "message": f"unknown scope {scope!r}; use user or project"}
        )
    if project_dir is not None and scope == "user":
        problems.append(
            {"field": "--project-dir", "message": "is for --scope project; add --scope project"}
        )
    if problems:
        raise InvalidInputError(problems)
    if scope == "project":
        base = (project_dir or Path.cwd()).absolute()
        if not base.is_dir():
            raise InvalidInputError(
                [{"field": "--project-dir", "message": f"{base} is not a folder"}]
            )
    else:
        base = home or Path.home()
    program = memvault or files.memvault_executable()
    commands = {
        kind: hook_command(program, kind, agent) for kind in (SESSION_START, SESSION_END, GUARD)
    }
    commands["mcp"] = shlex.join([program, "mcp"])
    report = SetupReport(action, agent, scope, program, commands)
    _plan(report, base, os.environ if env is None else env)
    for change in report.files:
        if change.action == "removed":
            files.remove_file(change.path)
        elif change.action != "unchanged" and change.after is not None:
            files.write_atomic(change.path, change.after)
    return report
