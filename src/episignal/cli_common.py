"""Options and helpers shared by every sub-command (apart from cli.py to avoid import cycles)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

from episignal.atomic_file import replacing
from episignal.config import DEFAULT_DATA_DIR

if TYPE_CHECKING:
    import pyarrow as pa

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


@contextlib.contextmanager
def output_file(out: Path) -> Iterator[Path]:
    """Where to write ``out``'s new content (``atomic_file.replacing``): ``out`` ends up whole
    or as it was. A file that cannot be written (a directory, no permission, a full disk) is a
    one-line error.

    A symbolic link's target is the file replaced (the link stays); a pipe or device that is
    not a file (``/dev/stdout``, a FIFO) is written in place, as there is nothing to rename over.
    """
    if out.is_dir() or not out.name:  # "--out ." or a folder: no file name to write
        raise fail(f"cannot write {out}: it is a directory; give a file name")
    try:
        if out.exists() and not out.is_file():
            yield out
        else:
            with replacing(out.resolve() if out.is_symlink() else out) as tmp:
                yield tmp
    except OSError as e:
        raise fail(f"cannot write {out}: {e.strerror or e}") from None


def write_export(table: pa.Table, out: Path) -> None:
    """Write a table for other tools (``output_file``): Parquet if ``out`` ends in .parquet, else
    CSV that quotes a value only where it must (a delimiter, quote or line end in it), as most
    tools write CSV, so a reader that splits lines on commas reads it too; the header is the bare
    column names."""
    # Arrow is imported here, not with this module: a command that writes no table (exposure)
    # does not pay for it.
    import pyarrow.parquet as pq

    with output_file(out) as tmp:
        if out.suffix == ".parquet":
            pq.write_table(table, tmp)
        else:
            _write_csv(table, tmp)


def _write_csv(table: pa.Table, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def write(quoting: str) -> None:
        with path.open("wb") as f:
            f.write((",".join(table.column_names) + "\n").encode())
            options = pacsv.WriteOptions(include_header=False, quoting_style=quoting)
            pacsv.write_csv(table, f, options)

    # Arrow's writer either never quotes (and refuses a value that needs it) or quotes all text.
    try:
        write("none")
    except pa.ArrowInvalid:
        write("needed")
