"""Progress bars of the long commands (replay, the benchmarks): on stderr, so stdout stays their JSON,
and only on a terminal (a pipe or a CI log gets no redraws)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(label: str, unit: str, total: int | None = None) -> Iterator[Callable[[int, int | None], None]]:
    """A bar for ``label``; yields ``update(done, total)`` (the total may be learnt later)."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, new_total: int | None = None) -> None:
            bar.update(task, completed=done, total=new_total if new_total is not None else total)

        yield update
