"""Output for people of the sync commands: a progress bar and report tables (rich)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

LIST_PREVIEW = 10  # ids shown per list; --json has them all


@contextmanager
def progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields `advance(done, total)`."""
    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield advance


def print_report(title: str, report: Any) -> None:
    """Every field of a report dataclass as a two-column table; long lists are shortened."""
    table = Table(title=title, show_header=False, show_edge=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name, value in dataclasses.asdict(report).items():
        table.add_row(name.replace("_", " "), _cell(value))
    Console(highlight=False).print(table)


def _cell(value: Any) -> str:
    if isinstance(value, list):
        shown = ", ".join(str(item) for item in value[:LIST_PREVIEW])
        more = len(value) - LIST_PREVIEW
        return f"{len(value)}: {shown}" + (f", … (+{more})" if more > 0 else "") if value else "0"
    if isinstance(value, float):
        return f"{value:.3f}"
    return "-" if value is None else str(value)
