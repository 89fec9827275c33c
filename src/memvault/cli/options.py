"""Options several commands share, and the parsing of the values typer leaves as text."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from memvault.errors import InvalidInputError
from memvault.models import MemoryType

TYPES = ", ".join(t.value for t in MemoryType)

Json = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON, nothing else.")]
Project = Annotated[str | None, typer.Option("--project", "-p", help="Project id.")]
Session = Annotated[
    str | None,
    typer.Option(
        "--session", "-s", help="Session id, or `previous` / `current` (of this project)."
    ),
]
AllProjects = Annotated[
    bool,
    typer.Option(
        "--all-projects",
        help="Across every project (a plain query covers this project and global memories).",
    ),
]
Mode = Annotated[
    str,
    typer.Option(
        "--mode",
        "-m",
        help="hybrid (words and meaning, fused; the default), keyword, or semantic.",
    ),
]
Remote = Annotated[
    bool,
    typer.Option(
        "--remote",
        help="Ask the replica instead of the local store (used anyway when the "
        "local store is missing).",
    ),
]
Type = Annotated[str | None, typer.Option("--type", "-t", help=f"Memory type: {TYPES}.")]
Tags = Annotated[
    list[str] | None,
    typer.Option("--tags", help="Tags, comma separated or the option repeated."),
]
Since = Annotated[
    str | None,
    typer.Option("--since", help="Created at or after (ISO 8601; a date is midnight UTC)."),
]
Until = Annotated[
    str | None,
    typer.Option("--until", help="Created at or before (ISO 8601; a date is midnight UTC)."),
]
Limit = Annotated[int, typer.Option("--limit", "-n", help="At most this many results (1-1000).")]
IncludeDeleted = Annotated[
    bool, typer.Option("--include-deleted", help="Include forgotten memories (tombstones).")
]


def split_tags(values: list[str] | None) -> list[str]:
    """`--tags a,b --tags c` → ["a", "b", "c"]; empty pieces are left for validation to name."""
    return [piece for value in values or [] for piece in value.split(",")]


def parse_when(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 date or datetime; a bare date is the start of that day, naive means UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(
            [
                {
                    "field": option,
                    "message": f"{value!r} is not an ISO 8601 date or datetime, "
                    "e.g. 2026-01-31 or 2026-01-31T12:00:00Z",
                }
            ]
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def memory_filter(
    *,
    project: str | None,
    session: str | None,
    memory_type: str | None,
    tags: list[str] | None,
    since: str | None,
    until: str | None,
    limit: int,
    include_deleted: bool,
    all_projects: bool = False,
) -> dict[str, Any]:
    """Raw filter input for the service, which validates it (and names what is wrong)."""
    raw: dict[str, Any] = {
        "project_id": project,
        "all_projects": all_projects or None,
        "session_id": session,
        "memory_type": memory_type,
        "tags": split_tags(tags),
        "since": parse_when(since, "since"),
        "until": parse_when(until, "until"),
        "limit": limit,
        "include_deleted": include_deleted,
    }
    return {key: value for key, value in raw.items() if value is not None}
