"""Options and helpers shared by every sub-command (apart from cli.py to avoid import cycles)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from episignal.config import DEFAULT_DATA_DIR

console = Console()
err_console = Console(stderr=True)

DataDirOption = Annotated[
    Path,
    typer.Option(
        "--data",
        envvar="EPISIGNAL_DATA_DIR",
        help="Data directory holding every dataset of this installation.",
        file_okay=False,
    ),
]
DEFAULT_DATA = DEFAULT_DATA_DIR


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a user-facing error (no traceback) and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


class StepColumn(ProgressColumn):
    """The step under way and how far its query has got, e.g. "sorting records 43 %".

    A task carries ``step`` (its name) and ``percent`` (a function giving the running query's
    progress, or None) in its fields; the column asks at every refresh, so the figure moves
    while one long query runs, between the task's own advances.
    """

    def render(self, task: Task) -> Text:
        step: str = task.fields.get("step", "")
        percent: Callable[[], float | None] | None = task.fields.get("percent")
        value = percent() if percent and step else None
        text = step if value is None else f"{step} {value:.0f} %"
        return Text(text, style="progress.remaining")


def step_spinner() -> Progress:
    """A spinner for work without a count (one task): its description, time, and ``StepColumn``;
    gone from the terminal when the work ends."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        StepColumn(),
        console=console,
        transient=True,
    )
