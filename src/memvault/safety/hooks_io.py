"""The agents' pre-tool-use hook protocols: which agent sent a payload, which shell command it is
about to run and where, and how to tell it no.

What each agent sends and expects (from their hook references, checked 2026-11):

- Claude Code, `PreToolUse` (matcher `Bash`). Stdin: `session_id`, `transcript_path`, `cwd`,
  `permission_mode`, `hook_event_name: "PreToolUse"`, `tool_name: "Bash"`, `tool_use_id`,
  `tool_input: {command, description, timeout, run_in_background}`. To block: exit 0 with
  `{"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny",
  "permissionDecisionReason": …}}` on stdout (the reason is shown to Claude; a deny holds in every
  permission mode), or exit 2 with the reason on stderr. Exit 1 does NOT block. We use the JSON.
- Gemini CLI, `BeforeTool` (matcher `run_shell_command`). Stdin: `session_id`,
  `transcript_path`, `cwd`, `hook_event_name: "BeforeTool"`, `timestamp`,
  `tool_name: "run_shell_command"`, `tool_input: {command, description, dir_path}` (`directory`
  in older releases; relative to the project root). To block: exit 2 with the reason on stderr
  (or exit 0 with `{"decision": "deny", "reason": …}`); stdout must hold nothing but JSON, so an
  allow prints `{}`. We use exit 2.
- Codex CLI, `PreToolUse` in `hooks.json` (matcher `Bash`; the same wire format as Claude Code,
  plus `turn_id` and `model`). Stdin: `tool_name: "Bash"`, `tool_input: {command}`. To block:
  exit 2 with the reason on stderr (the hookSpecificOutput deny and the older
  `{"decision": "block", "reason": …}` work too). We use exit 2. Should a Codex payload ever lack
  `turn_id`, it is answered like Claude's, which Codex also honours.

Anything else (not an object, another event, another tool) is allowed with one warning line:
a guard must never break the agent.
"""

from __future__ import annotations

import json
import os

CLAUDE = "claude-code"
GEMINI = "gemini-cli"
CODEX = "codex-cli"

# Shell tools by agent; Codex's older releases named its shell tool differently and passed argv.
_SHELL_TOOLS = {
    CLAUDE: ("Bash",),
    GEMINI: ("run_shell_command",),
    CODEX: ("Bash", "shell", "local_shell", "exec_command", "container.exec"),
}


class HookCall:
    """A shell command an agent is about to run: which agent, the command, its directory."""

    __slots__ = ("agent", "command", "cwd")

    def __init__(self, agent: str, command: str, cwd: str) -> None:
        self.agent = agent
        self.command = command
        self.cwd = cwd


def _agent(payload: dict[str, object]) -> str | None:
    event = payload.get("hook_event_name")
    tool = payload.get("tool_name")
    if event == "BeforeTool" or tool == "run_shell_command":
        return GEMINI
    if "turn_id" in payload:
        return CODEX
    if event == "PreToolUse" or tool == "Bash":
        return CLAUDE
    return None


def read_call(payload: object, process_cwd: str) -> HookCall | str:
    """The shell command in a hook payload, or a one-line reason why there is none to check."""
    if not isinstance(payload, dict):
        return "hook input is not a JSON object"
    agent = _agent(payload)
    if agent is None:
        return "hook input is not a Claude Code, Codex CLI or Gemini CLI pre-tool-use call"
    tool = payload.get("tool_name")
    if tool not in _SHELL_TOOLS[agent]:
        return f"tool {tool!r} is not a shell command; nothing to check"
    tool_input = payload.get("tool_input")
    if not isinstance(tool_input, dict):
        return "hook input has no tool_input object"
    command = tool_input.get("command", tool_input.get("cmd"))
    if isinstance(command, list) and all(isinstance(a, str) for a in command):
        from shlex import join  # Codex's older shell tool passed argv

        command = join(command)
    if not isinstance(command, str):
        return "hook input has no tool_input.command string"
    cwd = payload.get("cwd")
    cwd = cwd if isinstance(cwd, str) and os.path.isabs(cwd) else process_cwd
    for key in ("dir_path", "directory", "workdir"):  # Gemini; Codex's older shell tool
        where = tool_input.get(key)
        if isinstance(where, str) and where:
            cwd = os.path.join(cwd, where)
            break
    return HookCall(agent, command, os.path.normpath(cwd))


def allow_output(agent: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) that let the command run."""
    return 0, ("{}\n" if agent == GEMINI else ""), ""


def block_output(agent: str, reason: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) that stop the command, in the agent's own protocol."""
    if agent == CLAUDE:
        decision = {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "deny",
                "permissionDecisionReason": reason,
            }
        }
        return 0, json.dumps(decision) + "\n", ""
    return 2, "", reason + "\n"
