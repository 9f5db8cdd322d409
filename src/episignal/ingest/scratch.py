"""An ingest run's scratch directory in the data directory (normalised copies of feed files).

The copies hold raw numbers, so none may outlive its run: a run removes its own on any exit it
sees, and the next run removes what a killed one left. A live run holds a lock on its directory,
so a concurrent run never removes a directory still in use.
"""

from __future__ import annotations

import fcntl
import shutil
import time
import uuid
from pathlib import Path
from typing import IO

PREFIX = ".ingest-"
LOCK = ".lock"
UNLOCKED_GRACE_S = 600  # a directory without its lock this long is a dead run's


def remove_abandoned(data_dir: Path) -> int:
    """Remove the scratch directories no live run holds; how many were removed."""
    removed = 0
    for d in sorted(Path(data_dir).glob(f"{PREFIX}*")):
        if not d.is_dir():
            continue
        try:
            lock = open(d / LOCK)  # noqa: SIM115 (held across the removal below)
        except FileNotFoundError:
            # Not locked yet: a run being born (leave it), or one killed before it locked.
            try:
                abandoned = time.time() - d.stat().st_mtime > UNLOCKED_GRACE_S
            except FileNotFoundError:
                continue
            if abandoned:
                shutil.rmtree(d, ignore_errors=True)
                removed += not d.exists()
            continue
        with lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run's
            shutil.rmtree(d, ignore_errors=True)
            removed += not d.exists()
    return removed


class Scratch:
    """A run's scratch directory, made (and locked) on first use and removed by ``close``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = Path(data_dir) / f"{PREFIX}{uuid.uuid4().hex}"
        self._lock: IO[str] | None = None

    def path(self) -> Path:
        if self._lock is None:
            self.root.mkdir(mode=0o700, parents=True)  # owner only: the copies hold raw numbers
            self._lock = open(self.root / LOCK, "a")  # noqa: SIM115 (held until close)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        return self.root

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
