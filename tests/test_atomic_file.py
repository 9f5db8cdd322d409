"""Files replaced whole, and what killed writers leave behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from episignal.atomic_file import ABANDONED_AFTER_S, replacing


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _left(path: Path, pid: int, age_s: float) -> Path:
    tmp = path.with_name(f".{path.name}.{pid}.tmp")
    tmp.write_text("pseudonymous rows of a killed export\n")
    then = time.time() - age_s
    os.utime(tmp, (then, then))
    return tmp


def test_a_write_removes_what_a_killed_writer_of_the_same_file_left(tmp_path: Path) -> None:
    out = tmp_path / "itinerary.csv"
    abandoned = _left(out, _dead_pid(), ABANDONED_AFTER_S + 60)
    # A live writer's file, even an old one (a slow export), and a dead writer's recent one (a
    # writer on another host of shared storage, whose process id this host does not know).
    alive = _left(out, os.getppid(), ABANDONED_AFTER_S + 60)
    recent = _left(out, _dead_pid(), 60)
    other = _left(tmp_path / "other.csv", _dead_pid(), ABANDONED_AFTER_S + 60)
    not_a_pid = _left(out, 10**30, ABANDONED_AFTER_S + 60)

    with replacing(out) as tmp:
        tmp.write_text("subscriber,place_code\n")

    assert out.read_text() == "subscriber,place_code\n"
    assert not abandoned.exists()
    assert alive.exists() and recent.exists() and other.exists() and not_a_pid.exists()
