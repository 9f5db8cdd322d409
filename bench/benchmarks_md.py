"""BENCHMARKS.md: each benchmark script owns one section (a "## " heading) and rewrites only it."""

from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(heading: str, text: str, path: Path = BENCHMARKS_MD) -> None:
    """Replace the section that starts with ``heading`` (up to the next "## ") by ``text``."""
    current = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        updated = pattern.sub(lambda _m: text.rstrip("\n") + "\n\n", current)
    else:
        updated = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    path.write_text(updated)


def show_section(heading: str, text: str, write: bool) -> None:
    """Print a benchmark's section, and write it into BENCHMARKS.md unless ``--no-write``."""
    print(text)
    if write:
        write_section(heading, text)
