"""Options and helpers shared by every sub-command (apart from cli.py to avoid import cycles)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
