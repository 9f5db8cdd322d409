"""Files replaced whole: written beside their path, then renamed over it.

``os.replace`` within one directory is atomic, so a reader, or a crash halfway through writing,
sees the previous content or the new one, never part of it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path, *, private: bool = False) -> Iterator[Path]:
    """The file to write ``path``'s new content to; renamed over ``path`` when the block ends
    without an error, removed otherwise. ``private``: the new file is owner-only (0600) from
    its creation, never readable by others while it is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # renamed already, or never made
            tmp.unlink()
