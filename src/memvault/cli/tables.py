"""Output for people: rich tables, imported only when a command prints one (rich loads slowly)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from memvault.models import Memory, ProjectSummary, SearchHit, Session, SessionDetail, Stats

if TYPE_CHECKING:
    from memvault.health import CheckResult

SNIPPET_CHARS = 120
SHORT_ID = 8


def _console() -> Console:
    return Console(highlight=False)


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def _snippet(content: str) -> str:
    flat = " ".join(content.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


def _attribution(memory: Memory) -> str:
    session = memory.session_id[:SHORT_ID] if memory.session_id else "-"
    return f"{memory.project_id or '-'} · {session} · {memory.source or '-'}"


def _memory_table(with_rank: bool) -> Table:
    table = Table(show_edge=False, header_style="bold")
    if with_rank:
        table.add_column("#", justify="right", no_wrap=True)
    table.add_column("id", no_wrap=True, min_width=SHORT_ID)
    table.add_column("type", no_wrap=True)
    table.add_column("project · session · agent", overflow="fold")
    table.add_column("created (UTC)", no_wrap=True)
    table.add_column("content", ratio=1, overflow="fold")
    return table


def _memory_cells(memory: Memory) -> list[Text]:
    mark = " (forgotten)" if memory.is_deleted else ""
    return [
        Text(str(memory.id)[:SHORT_ID]),
        Text(memory.memory_type.value),
        Text(_attribution(memory)),
        Text(_time(memory.created_at)),
        Text(_snippet(memory.content) + mark),
    ]


def print_hits(hits: list[SearchHit]) -> None:
    """Search results, best first."""
    if not hits:
        _console().print("no memories match")
        return
    table = _memory_table(with_rank=True)
    for rank, hit in enumerate(hits, start=1):
        table.add_row(Text(str(rank)), *_memory_cells(hit.memory))
    _console().print(table)


def print_memories(memories: list[Memory]) -> None:
    """A list of memories, newest first."""
    if not memories:
        _console().print("no memories")
        return
    table = _memory_table(with_rank=False)
    for memory in memories:
        table.add_row(*_memory_cells(memory))
    _console().print(table)


def print_memory(memory: Memory) -> None:
    """Every field of one memory, then its full content."""
    table = Table(show_header=False, show_edge=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    fields: list[tuple[str, Any]] = [
        ("id", memory.id),
        ("type", memory.memory_type.value),
        ("importance", memory.importance),
        ("tags", ", ".join(memory.tags) or "-"),
        ("project", memory.project_id),
        ("session", memory.session_id),
        ("task", memory.task_id),
        ("scope", memory.scope.value),
        ("source", memory.source),
        ("created", memory.created_at.isoformat()),
        ("updated", memory.updated_at.isoformat()),
        ("forgotten", memory.deleted_at.isoformat() if memory.deleted_at else None),
        ("sync", f"v{memory.sync_version} {memory.sync_status.value}"),
        (
            "embedding",
            f"{memory.embedding_model} ({memory.embedding_dim})"
            if memory.embedding_model
            else None,
        ),
    ]
    for name, value in fields:
        table.add_row(name, Text("-" if value is None else str(value)))
    console = _console()
    console.print(table)
    console.print()
    console.print(Text(memory.content))


def print_stats(stats: Stats, store_path: Path) -> None:
    """Totals, counts by type and by project, and what waits to replicate."""
    console = _console()
    summary = Table(show_header=False, show_edge=False, box=None)
    summary.add_column(style="bold", no_wrap=True)
    summary.add_column(overflow="fold")
    summary.add_row("store", Text(str(store_path)))
    summary.add_row("memories", str(stats.total))
    summary.add_row("forgotten", str(stats.deleted))
    summary.add_row("pending sync", str(stats.pending_sync))
    summary.add_row("last write", _time(stats.last_write_at))
    console.print(summary)
    for title, counts in (("type", stats.by_type), ("project", stats.by_project)):
        if not counts:
            continue
        table = Table(show_edge=False, header_style="bold")
        table.add_column(title, overflow="fold")
        table.add_column("memories", justify="right")
        for key, count in counts.items():
            table.add_row(Text(key or "(none)"), str(count))
        console.print()
        console.print(table)


def print_checks(results: list[CheckResult], all_required_ok: bool) -> None:
    """Doctor's table: one row a check, then a one-line verdict."""
    table = Table(show_edge=False, header_style="bold")
    table.add_column("", no_wrap=True)
    table.add_column("check", no_wrap=True)
    table.add_column("detail", ratio=2, overflow="fold")
    table.add_column("hint", ratio=1, overflow="fold")
    for r in results:
        mark = (
            Text("✔", style="green") if r.ok else Text("✘", style="red" if r.required else "yellow")
        )
        name = r.name if r.required else f"{r.name} (optional)"
        table.add_row(mark, Text(name), Text(r.detail), Text(r.hint or ""))
    console = _console()
    console.print(table)
    failed = [r.name for r in results if r.required and not r.ok]
    if all_required_ok:
        console.print("all required checks passed")
    else:
        console.print(Text(f"required checks failed: {', '.join(failed)}", style="red"))


def print_sessions(sessions: list[Session]) -> None:
    """Sessions, most recently started first."""
    if not sessions:
        _console().print("no sessions")
        return
    table = Table(show_edge=False, header_style="bold")
    for title in ("id", "project", "agent", "started (UTC)", "ended (UTC)", "memories"):
        table.add_column(title, overflow="fold", justify="right" if title == "memories" else "left")
    table.add_column("summary", ratio=1, overflow="fold")
    for s in sessions:
        table.add_row(
            Text(s.id),
            Text(s.project_id or "-"),
            Text(s.agent or "-"),
            Text(_time(s.started_at)),
            Text(_time(s.ended_at) if s.ended_at else "open"),
            str(s.memory_count),
            Text(_snippet(s.summary or "")),
        )
    _console().print(table)


def print_session(detail: SessionDetail) -> None:
    """One session's fields, then its memories oldest first."""
    s = detail.session
    table = Table(show_header=False, show_edge=False, box=None)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in (
        ("session", s.id),
        ("project", s.project_id),
        ("agent", s.agent),
        ("started", s.started_at.isoformat()),
        ("ended", s.ended_at.isoformat() if s.ended_at else "open"),
        ("previous", s.previous_id),
        ("memories", str(len(detail.memories))),
        ("summary", s.summary),
    ):
        table.add_row(name, Text(value or "-"))
    console = _console()
    console.print(table)
    console.print()
    print_memories(detail.memories)


def print_projects(projects: list[ProjectSummary]) -> None:
    """Projects with their counts, most recently active first."""
    if not projects:
        _console().print("no projects")
        return
    table = Table(show_edge=False, header_style="bold")
    table.add_column("id", overflow="fold")
    table.add_column("name", overflow="fold")
    table.add_column("memories", justify="right")
    table.add_column("sessions", justify="right")
    table.add_column("last active (UTC)", no_wrap=True)
    table.add_column("description", ratio=1, overflow="fold")
    for p in projects:
        table.add_row(
            Text(p.id),
            Text(p.name),
            str(p.memory_count),
            str(p.session_count),
            Text(_time(p.last_active_at)),
            Text(_snippet(p.description or "")),
        )
    _console().print(table)
