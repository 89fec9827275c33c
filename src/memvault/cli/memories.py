"""remember, recall, show, forget, list: parse options, call MemoryService, render."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context


def remember(
    ctx: typer.Context,
    text: Annotated[
        str, typer.Argument(metavar="TEXT", help='The memory\'s content; "-" reads it from stdin.')
    ],
    memory_type: options.Type = None,
    tags: options.Tags = None,
    importance: Annotated[
        float | None, typer.Option("--importance", "-i", help="0 to 1 (default 0.5).")
    ] = None,
    project: options.Project = None,
    session: options.Session = None,
    task: Annotated[str | None, typer.Option("--task", help="Task id.")] = None,
    scope: Annotated[
        str | None, typer.Option("--scope", help="project (default) or global.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option("--source", help="Who wrote it (default: the session's agent)."),
    ] = None,
    as_json: options.Json = False,
) -> None:
    """Store a new memory and print its id."""
    content = sys.stdin.read().rstrip("\r\n") if text == "-" else text
    raw = {
        "content": content,
        "memory_type": memory_type,
        "importance": importance,
        "tags": options.split_tags(tags),
        "project_id": project,
        "session_id": session,
        "task_id": task,
        "scope": scope,
        "source": source,
    }
    memory = (
        cli_context(ctx)
        .service()
        .remember({key: value for key, value in raw.items() if value is not None})
    )
    if as_json:
        render.emit_json(render.memory_json(memory))
    else:
        typer.echo(str(memory.id))


def recall(
    ctx: typer.Context,
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="Words to look for in content and tags.")
    ],
    project: options.Project = None,
    session: options.Session = None,
    all_projects: options.AllProjects = False,
    memory_type: options.Type = None,
    tags: options.Tags = None,
    since: options.Since = None,
    until: options.Until = None,
    limit: options.Limit = 10,
    include_deleted: options.IncludeDeleted = False,
    mode: options.Mode = "hybrid",
    remote: options.Remote = False,
    as_json: options.Json = False,
) -> None:
    """Find memories by words and meaning, best match first, with project, session and agent."""
    flt = options.memory_filter(
        project=project,
        session=session,
        memory_type=memory_type,
        tags=tags,
        since=since,
        until=until,
        limit=limit,
        include_deleted=include_deleted,
        all_projects=all_projects,
    )
    context = cli_context(ctx)
    hits = context.answer(
        remote,
        lambda service: service.search(query, flt, mode=mode),
        lambda service: service.remote.search(query, flt, mode=mode),
    )
    if as_json:
        render.emit_json([render.hit_json(rank, hit) for rank, hit in enumerate(hits, start=1)])
    else:
        from memvault.cli import tables

        tables.print_hits(hits)


def show(
    ctx: typer.Context,
    memory_id: Annotated[str, typer.Argument(metavar="ID", help="The memory's id (a UUID).")],
    include_deleted: options.IncludeDeleted = False,
    as_json: options.Json = False,
) -> None:
    """Show one memory in full."""
    memory = cli_context(ctx).service().get(memory_id, include_deleted=include_deleted)
    if as_json:
        render.emit_json(render.memory_json(memory, with_embedding=True))
    else:
        from memvault.cli import tables

        tables.print_memory(memory)


def forget(
    ctx: typer.Context,
    memory_id: Annotated[str, typer.Argument(metavar="ID", help="The memory's id (a UUID).")],
    as_json: options.Json = False,
) -> None:
    """Forget a memory here; the replica keeps its history."""
    memory = cli_context(ctx).service().forget(memory_id)
    if as_json:
        render.emit_json(render.memory_json(memory))
    else:
        typer.echo(f"forgot {memory.id}")


def list_memories(
    ctx: typer.Context,
    project: options.Project = None,
    session: options.Session = None,
    all_projects: options.AllProjects = False,
    memory_type: options.Type = None,
    tags: options.Tags = None,
    since: options.Since = None,
    until: options.Until = None,
    limit: options.Limit = 20,
    include_deleted: options.IncludeDeleted = False,
    remote: options.Remote = False,
    as_json: options.Json = False,
) -> None:
    """List memories, newest first."""
    flt = options.memory_filter(
        project=project,
        session=session,
        memory_type=memory_type,
        tags=tags,
        since=since,
        until=until,
        limit=limit,
        include_deleted=include_deleted,
        all_projects=all_projects,
    )
    context = cli_context(ctx)
    memories = context.answer(
        remote, lambda service: service.list(flt), lambda service: service.remote.list(flt)
    )
    if as_json:
        render.emit_json([render.memory_json(m) for m in memories])
    else:
        from memvault.cli import tables

        tables.print_memories(memories)
