"""Same seed, same files; neither the chunk size nor the number of workers changes the output."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.parquet as pq

from episignal.simulate.run import simulate_to


def _digest(data: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((data / "raw").rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    simulate_to(tmp_path / "a", "baseline", subscribers=300, days=3, seed=5, canonical=True)
    simulate_to(tmp_path / "b", "baseline", subscribers=300, days=3, seed=5, canonical=True)
    simulate_to(tmp_path / "c", "baseline", subscribers=300, days=3, seed=6, canonical=True)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    for name in ("stays", "subscribers", "itineraries", "dirt"):
        a = pq.read_table(tmp_path / "a" / "truth" / f"{name}.parquet")
        assert a.equals(pq.read_table(tmp_path / "b" / "truth" / f"{name}.parquet"))


def _lines(data: Path, fmt: str) -> list[str]:
    out: list[str] = []
    for p in sorted((data / "raw" / fmt).glob("part-*")):
        lines = p.read_text().splitlines()
        out += lines[1:] if fmt != "carrier-a" else lines
    return sorted(out)


def test_chunking_does_not_change_the_output(tmp_path: Path) -> None:
    kw = {"subscribers": 1000, "days": 4, "seed": 3, "canonical": True, "dirt": False}
    simulate_to(tmp_path / "one", "baseline", chunk_subscribers=1024, **kw)
    simulate_to(tmp_path / "many", "baseline", chunk_subscribers=256, **kw)
    assert len(list((tmp_path / "many" / "raw" / "carrier-a").glob("part-*"))) == 4
    for fmt in ("carrier-a", "carrier-b", "carrier-c", "canonical"):
        assert _lines(tmp_path / "one", fmt) == _lines(tmp_path / "many", fmt)
    for name in ("stays", "subscribers", "itineraries"):
        one = pq.read_table(tmp_path / "one" / "truth" / f"{name}.parquet").to_pandas()
        many = pq.read_table(tmp_path / "many" / "truth" / f"{name}.parquet").to_pandas()
        cols = list(one.columns)
        one = one.sort_values(cols).reset_index(drop=True)
        many = many.sort_values(cols).reset_index(drop=True)
        assert one.equals(many)


def _all_files(data: Path) -> dict[str, str]:
    return {
        str(p.relative_to(data)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(data.rglob("*"))
        if p.is_file() and p.name != "manifest.json"  # the manifest records the run's seconds
    }


def test_worker_processes_write_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    kw = {"subscribers": 1000, "days": 3, "seed": 4, "canonical": True, "chunk_subscribers": 256}
    serial = simulate_to(tmp_path / "serial", "baseline", workers=1, **kw)
    parallel = simulate_to(tmp_path / "parallel", "baseline", workers=2, **kw)
    files = _all_files(tmp_path / "serial")
    assert len([f for f in files if f.startswith("raw/carrier-a/part-")]) == 4
    assert files == _all_files(tmp_path / "parallel")
    assert serial.events == parallel.events
    assert serial.rows_by_format == parallel.rows_by_format
