"""Normalised copies of feed files hold raw numbers: none outlives its ingest run."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from episignal.ingest.scratch import UNLOCKED_GRACE_S, Scratch, remove_abandoned
from tests.core_world import at, every, ingest

RAW = "+8613800138000"


def _killed_run(data: Path, name: str, locked_file: bool = True) -> Path:
    """What a run killed mid-way leaves: its scratch directory with a copy of a feed."""
    d = data / f".ingest-{name}"
    d.mkdir()
    (d / "0.txt").write_text(f"{RAW},2020-01-20T08:00:00+08:00,46000-1-1,data\n")
    if locked_file:
        (d / ".lock").touch()  # nobody holds it: the run is dead
    return d


def _no_raw_number_in(data: Path) -> bool:
    return all(RAW.encode() not in p.read_bytes() for p in data.rglob("*") if p.is_file())


def test_the_next_ingest_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingest(data, {RAW: every(at(0, "08:00"), at(0, "12:00"), "46000-1-1")})
    dead = _killed_run(data, "dead")
    ingest(data, {RAW: every(at(1, "08:00"), at(1, "12:00"), "46000-1-1")}, name="day2.csv")
    assert not dead.exists()
    assert _no_raw_number_in(data)


def test_a_live_runs_scratch_is_left_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    live = Scratch(data)
    try:
        copy = live.path() / "0.txt"
        copy.write_text("in use\n")
        assert remove_abandoned(data) == 0
        assert copy.exists()
    finally:
        live.close()
    assert not live.root.exists()


def test_a_directory_killed_before_it_was_locked_goes_after_a_grace_period(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    young = _killed_run(data, "young", locked_file=False)
    old = _killed_run(data, "old", locked_file=False)
    long_ago = time.time() - UNLOCKED_GRACE_S - 60
    os.utime(old, (long_ago, long_ago))
    assert remove_abandoned(data) == 1
    assert young.exists() and not old.exists()  # young: maybe a run being born


def test_a_lock_held_by_another_process_protects_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    d = _killed_run(data, "other")
    with open(d / ".lock") as held:  # another open file: a lock flock sees as someone else's
        fcntl.flock(held, fcntl.LOCK_EX)
        assert remove_abandoned(data) == 0
        assert d.exists()
    assert remove_abandoned(data) == 1
