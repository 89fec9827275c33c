"""The agents' session hooks: what runs when a Claude Code, Codex CLI or Gemini CLI session
starts or ends (`memvault hooks session-start|session-end --agent …`, written into the agent's
settings by `memvault hooks install`).

Session start: a missing or empty local store is recovered from the replica first, the memvault
session named by the agent's session id is started or resumed, and a short briefing (the
previous session's summary, the project's key memories) goes back to the agent as
`hookSpecificOutput.additionalContext`, the one shape all three agents read. Session end: the
session ends in the local store (one transaction) and a running `memvault serve` is nudged to
replicate it; nothing slow happens in the hook (Claude Code gives SessionEnd ~1.5 s).

A hook never breaks the agent: whatever fails is said on stderr and in the briefing, and the
hook exits 0.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from memvault.config import Settings
from memvault.context.briefing import as_text
from memvault.errors import MemvaultError, NotFoundError
from memvault.runtime import open_service
from memvault.safety.hooks_io import CLAUDE, CODEX, GEMINI

# `--agent` values, and the agent name sessions and memories record.
AGENTS = {"claude": CLAUDE, "codex": CODEX, "gemini": GEMINI}
NUDGE_TIMEOUT_S = 0.5  # a running `memvault serve` answers at once, or is not there


@dataclass(frozen=True)
class HookInput:
    """What memvault reads of an agent's hook payload."""

    session_id: str | None = None
    cwd: Path | None = None
    source: str | None = None  # startup, resume, clear, compact (session start)


def read_input(text: str) -> tuple[HookInput, str | None]:
    """The payload's fields, and a warning when it could not be read (then: no fields)."""
    if not text.strip():
        return HookInput(), None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        return HookInput(), f"hook input is not JSON ({exc}); using the defaults"
    if not isinstance(payload, dict):
        return HookInput(), "hook input is not a JSON object; using the defaults"
    cwd = _text(payload, "cwd")
    return (
        HookInput(
            session_id=_text(payload, "session_id"),
            cwd=Path(cwd) if cwd else None,
            source=_text(payload, "source") or _text(payload, "trigger"),
        ),
        None,
    )


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    return value if isinstance(value, str) and value.strip() else None


def session_start(settings: Settings, agent: str, hook: HookInput) -> tuple[str, list[str]]:
    """Recover if needed, start or resume the session, and brief the agent. Returns the JSON
    for the agent's stdout and the warnings for stderr."""
    notes = recover_if_needed(settings)
    try:
        service = open_service(settings, cwd=hook.cwd, tool="hook")
        try:
            start = {"session_id": hook.session_id, "agent": AGENTS[agent]}
            service.start_session({k: v for k, v in start.items() if v is not None})
            briefing = as_text(service.session_context())
        finally:
            service.store.close()
    except MemvaultError as exc:
        notes.append(f"memvault could not start the session: {exc}")
        briefing = "memvault's memory is unavailable for this session."
    context = "\n".join([*notes, briefing])
    output = {"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}}
    return json.dumps(output, ensure_ascii=False), notes


def recover_if_needed(settings: Settings) -> list[str]:
    """Rebuild a missing, empty or schema-less store from the replica (as `memvault serve`
    does at start); returns what the agent should be told about it."""
    if settings.neo4j_password is None:
        return []
    from memvault.remote.neo4j import Neo4jReplica
    from memvault.sync.startup import StartupAction, ensure_not_empty

    decision = asyncio.run(ensure_not_empty(settings, Neo4jReplica.from_settings))
    state = decision.state.value
    if decision.action is StartupAction.RECOVERED and decision.report is not None:
        report = decision.report
        verified = "verified against the replica" if report.verified else "NOT verified"
        rebuilt = "1 memory was" if report.recovered == 1 else f"{report.recovered} memories were"
        return [
            f"memvault: the local store was {state}; {rebuilt} rebuilt from the replica "
            f"({verified})."
        ]
    if decision.action in (StartupAction.REPLICA_UNREACHABLE, StartupAction.RECOVERY_FAILED):
        return [
            f"memvault: the local store is {state} and could not be rebuilt from the replica "
            f"({decision.error}); earlier memories are missing until `memvault recover`."
        ]
    if decision.action is StartupAction.AUTO_RECOVER_OFF:
        return [
            f"memvault: the local store is {state} while the replica holds "
            f"{decision.remote_memories} memories; run `memvault recover`."
        ]
    return []


def session_end(settings: Settings, hook: HookInput) -> list[str]:
    """End the agent's session (the current one when the payload names none) and nudge a
    running `memvault serve` to replicate now; returns warnings for stderr."""
    warnings = []
    try:
        service = open_service(settings, cwd=hook.cwd, tool="hook")
        try:
            service.end_session(hook.session_id)
        finally:
            service.store.close()
    except NotFoundError as exc:
        return [f"memvault: nothing to end: {exc}"]
    except MemvaultError as exc:
        return [f"memvault could not end the session: {exc}"]
    if not nudge_server(settings):
        warnings.append(
            "memvault: no `memvault serve` answered; the session's end replicates at the next sync"
        )
    return warnings


def nudge_server(settings: Settings) -> bool:
    """Ask a running `memvault serve` to drain its outbox now; False when none answered."""
    import httpx

    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    headers = {}
    if settings.api_token is not None:
        headers["Authorization"] = f"Bearer {settings.api_token.get_secret_value()}"
    try:
        response = httpx.post(
            f"http://{host}:{settings.port}/api/sync/trigger",
            headers=headers,
            timeout=NUDGE_TIMEOUT_S,
        )
    except httpx.HTTPError:
        return False
    return response.status_code < 400
