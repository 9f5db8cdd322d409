"""Files replaced whole: written beside their path, then renamed over it.

``os.replace`` within one directory is atomic, so a reader, or a crash halfway through writing,
sees the previous content or the new one, never part of it. A writer killed outright (SIGKILL,
power loss) leaves its temporary file behind; the next write of the same path removes it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

# A temporary file untouched this long, whose process is gone, was abandoned: a live writer
# touches its file as it writes, and on storage shared between hosts a writer elsewhere has a
# process id this host does not know.
ABANDONED_AFTER_S = 3600


@contextlib.contextmanager
def replacing(path: Path, *, private: bool = False) -> Iterator[Path]:
    """The file to write ``path``'s new content to; renamed over ``path`` when the block ends
    without an error, removed otherwise. ``private``: the new file is owner-only (0600) from
    its creation, never readable by others while it is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        if private:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # renamed already, or never made
            tmp.unlink()


def _running(pid: int) -> bool:
    """Is ``pid`` a process here (or a number that cannot be one, whose file is left alone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # someone else's process; no process id at all
        return True
    return True


def _remove_abandoned(path: Path) -> None:
    """Remove the temporary files of ``path`` left by writers that died: they may hold what the
    file holds (pseudonymous rows, keys) where no retention rule looks."""
    prefix = f".{path.name}."
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            name = entry.name
            if not (name.startswith(prefix) and name.endswith(".tmp")):
                continue
            pid = name[len(prefix) : -len(".tmp")]
            if not pid.isdigit() or _running(int(pid)):
                continue
            with contextlib.suppress(OSError):  # gone already, or not ours to remove
                if now - entry.stat(follow_symlinks=False).st_mtime >= ABANDONED_AFTER_S:
                    os.unlink(entry.path)
