"""Events partitions: de-duplicated and sorted a few local days at a time, however cut."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from episignal.ingest import partitions
from episignal.ingest.partitions import day_groups
from episignal.ingest.run import ingest_files
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from tests.core_world import write_cells

ROWS = [
    # (msisdn, local time, cell, event type)
    ("+8613800138000", "2020-01-20T08:15:00+08:00", "46000-1-1", "data"),
    ("+8613800138000", "2020-01-20T08:15:00+08:00", "46000-1-2", "data"),  # same second
    ("+8613900139000", "2020-01-20T23:59:59+08:00", "46001-1-1", "call"),
    ("+8613900139000", "2020-01-21T00:00:00+08:00", "46000-1-1", "sms"),  # next local day
    ("+8613700137000", "2020-01-21T07:59:59+08:00", "44010-1-1", "attach"),  # 2020-01-20 UTC
    ("+8613800138000", "2020-01-23T12:00:00+08:00", "46011-1-1", "handover"),
]


def _write(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    path.write_text("msisdn,ts,cell_id,event_type\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def _stored(data: Path) -> dict[str, list[tuple]]:
    """Rows of each partition, in file order."""
    events = VersionedDataset(Layout(data).events)
    return {
        "/".join(f"{k}={v}" for k, v in part): duckdb.sql(
            f"SELECT * FROM read_parquet({[str(f) for f in events.files_of([part])]})"
        ).fetchall()
        for part in events.partitions()
    }


def _ingest(tmp_path: Path, name: str) -> tuple[dict[str, list[tuple]], list[tuple]]:
    # the second file repeats rows of the first (credited to the first) and one of its own
    first = _write(tmp_path / "a.csv", [*ROWS, ROWS[0]])
    second = _write(tmp_path / "b.csv", [ROWS[3], ROWS[5], ROWS[3]])
    data = tmp_path / name
    report = ingest_files(
        data, "canonical", [second, first], cells_path=write_cells(tmp_path / "c.csv")
    )
    counts = [(f.file, f.rows_read, f.accepted, f.duplicates) for f in report.files]
    return _stored(data), counts


def test_each_local_day_sorted_alone_gives_the_same_events_as_one_sort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "42" * 32)
    sorts: list[list[int]] = []
    sorted_rows = partitions._sorted_rows

    def counted(con: object, keyed: object, days: list[int]) -> object:
        sorts.append(days)
        return sorted_rows(con, keyed, days)

    monkeypatch.setattr(partitions, "_sorted_rows", counted)
    together = _ingest(tmp_path, "together")
    assert len(sorts) == 1
    monkeypatch.setattr(partitions, "ROWS_PER_SORT", 1)
    apart = _ingest(tmp_path, "apart")
    assert len(sorts) == 1 + 3  # a sort per local day
    assert apart == together
    stored, counts = together
    assert counts == [
        (str(tmp_path / "b.csv"), 3, 0, 3),
        (str(tmp_path / "a.csv"), 7, 6, 1),
    ]
    assert sorted(stored) == [
        "local_date=2020-01-20/carrier=46000",
        "local_date=2020-01-20/carrier=46001",
        "local_date=2020-01-21/carrier=46000",
        "local_date=2020-01-23/carrier=46011",
    ]
    for rows in stored.values():  # stored order: subscriber, then time
        assert [r[:2] for r in rows] == sorted(r[:2] for r in rows)
    assert sum(map(len, stored.values())) == 6


def test_consecutive_days_share_a_sort_up_to_the_row_budget() -> None:
    assert day_groups({1: 5, 2: 5, 3: 5, 5: 1}, max_rows=10) == [[1, 2], [3, 5]]
    assert day_groups({1: 20, 2: 5}, max_rows=10) == [[1], [2]]
    assert day_groups({}, max_rows=10) == []
