"""What a new session should know: the previous session and the project's key memories.

The session-start hook prints this for the agent, and the MCP tool `session_context` returns it.
"""

from __future__ import annotations

from collections.abc import Iterable

from memvault.context.sessions import SessionManager
from memvault.models import Memory, MemoryFilter, SessionContext
from memvault.store import LocalStore

# Key memories are the most important among the project's latest ones: an old decision is still
# a `recall` away, while a briefing that scanned every memory would grow with the store.
RECENT_WINDOW = 100


def most_important(memories: Iterable[Memory], limit: int) -> list[Memory]:
    """The `limit` most important memories, the newer first among equals."""
    ranked = sorted(memories, key=lambda m: (m.importance, m.created_at), reverse=True)
    return ranked[:limit]


def session_context(
    store: LocalStore, sessions: SessionManager, project_id: str | None, limit: int
) -> SessionContext:
    """The project's latest session before the current one that left a summary or memories
    (sessions that left nothing tell nothing), with its most important memories, and the
    project's most important recent other memories."""
    current = sessions.current(project_id)
    previous = store.sessions.latest(project_id, before=current, with_content=True)
    previous_memories = (
        most_important(store.sessions.memories(previous.id), limit) if previous else []
    )
    shown = {memory.id for memory in previous_memories}
    recent = store.list(MemoryFilter(project_id=project_id, limit=RECENT_WINDOW))
    key_memories = most_important((m for m in recent if m.id not in shown), limit)
    return SessionContext(
        project_id=project_id,
        current=current,
        previous=previous,
        previous_memories=previous_memories,
        key_memories=key_memories,
        open_alerts=len(store.alerts.all(open_only=True)),
    )


def _line(memory: Memory, width: int = 300) -> str:
    text = " ".join(memory.content.split())
    if len(text) > width:
        text = text[: width - 1] + "…"
    return f"- [{memory.memory_type.value}, importance {memory.importance:g}] {text}"


def as_text(context: SessionContext) -> str:
    """The briefing as short plain text for an agent's context (the session-start hook)."""
    lines = [f"memvault: memory of project {context.project_id or '(none)'}"]
    previous = context.previous
    if previous is None:
        lines.append("No earlier session in this project.")
    else:
        when = previous.ended_at or previous.last_active_at or previous.started_at
        state = "ended" if previous.ended_at else "last active"
        agent = f"{previous.agent}, " if previous.agent else ""
        lines.append(
            f"Previous session {previous.id} ({agent}{state} {when:%Y-%m-%d %H:%M} UTC): "
            + (previous.summary or "no summary was left.")
        )
        lines.extend(_line(memory) for memory in context.previous_memories)
    if context.key_memories:
        lines.append("Key memories of this project:")
        lines.extend(_line(memory) for memory in context.key_memories)
    if context.open_alerts:
        lines.append(
            f"{context.open_alerts} open destruction alert(s): deletes are held until a person "
            "reviews them with `memvault alerts`."
        )
    lines.append(
        "Use memvault's MCP tools: `recall` what earlier sessions decided before you start, "
        "`remember` decisions and fixes worth keeping."
    )
    return "\n".join(lines)
