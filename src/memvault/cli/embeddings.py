"""reembed: vectors of the active embedding model for every memory, here and on the replica."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from memvault.cli import options, render
from memvault.cli.context import cli_context

if TYPE_CHECKING:
    from memvault.embeddings.reembed import ReembedReport
    from memvault.service import MemoryService


def reembed(
    ctx: typer.Context,
    everything: Annotated[
        bool,
        typer.Option("--all", help="Re-embed every memory, even those the model already has."),
    ] = False,
    as_json: options.Json = False,
) -> None:
    """Embed memories lacking a vector of the active model (after a model change: all), size
    the replica's vector index to the model and send the vectors."""
    context = cli_context(ctx)

    async def work(service: MemoryService) -> ReembedReport:
        if as_json:
            return await service.reembed(everything=everything)
        from memvault.cli import reports

        with reports.progress("embedding") as advance:
            return await service.reembed(everything=everything, progress=advance)

    report = context.run_with_replica(work)  # without NEO4J_PASSWORD: local vectors only
    if as_json:
        render.emit_json(render.plain(report))
    else:
        from memvault.cli import reports

        reports.print_report("reembed", report)
