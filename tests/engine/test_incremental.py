"""Incremental processing: a new day touches only that day, and equals a full backfill."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from episignal.engine import process
from episignal.engine.backend import duckdb_connection
from episignal.engine.process import ProcessParams, event_days, process_days
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from tests.core_world import at, every, ingest

TIMELINE = {
    "+8613800138000": every(at(0, "08:00"), at(2, "20:00"), "46000-1-1", minutes=30),
    "+8613900139000": every(at(0, "20:00"), at(1, "03:00"), "46000-5-1", minutes=20)
    + every(at(1, "09:00"), at(2, "12:00"), "46000-2-2", minutes=20),
}


def _stays(data: Path) -> list[tuple]:
    files = VersionedDataset(Layout(data).stays).files()
    return duckdb.sql(
        f"SELECT * FROM read_parquet({[str(f) for f in files]}, hive_partitioning=true)"
        " ORDER BY ALL"
    ).fetchall()


def _twins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Two data directories with the same events, under one pseudonym key (same subscribers)."""
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "22" * 32)
    twins = tmp_path / "a" / "data", tmp_path / "b" / "data"
    for data in twins:
        data.parent.mkdir()
        ingest(data, TIMELINE)
    return twins


def test_day_by_day_processing_equals_a_backfill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backfill, daily = _twins(tmp_path, monkeypatch)
    days = event_days(backfill)
    process_days(backfill, days)
    for day in days:
        process_days(daily, [day])
    assert _stays(backfill) == _stays(daily)
    assert len(_stays(backfill)) > 0


def test_unchanged_days_are_not_recomputed_and_new_data_recomputes_only_its_days(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ingest(data, TIMELINE)
    days = event_days(data)
    assert process_days(data, days) == days
    assert process_days(data, days) == []
    ingest(data, {"+8613700137000": every(at(1, "08:00"), at(1, "18:00"), "46000-4-1")}, "late.csv")
    # the late day 1 changes day 1 and day 2 (its lookback), nothing else
    assert process_days(data, days) == [days[1], days[2]]


def _spans(data: Path) -> list[tuple]:
    files = VersionedDataset(Layout(data).spans).files()
    return duckdb.sql(
        f"SELECT * FROM read_parquet({[str(f) for f in files]}, hive_partitioning=true)"
        " ORDER BY ALL"
    ).fetchall()


def test_results_do_not_depend_on_how_many_days_one_query_computes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    together, apart = _twins(tmp_path, monkeypatch)
    days = event_days(together)
    process_days(together, days)
    process_days(apart, days, params=ProcessParams(events_per_query=1))  # a query per day
    assert _stays(together) == _stays(apart)
    assert _spans(together) == _spans(apart)
    assert len(_spans(together)) > 0


def test_a_backfill_holds_one_batchs_tables_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill of months runs batch after batch on one connection: each batch's tables go
    once its days are written, or memory would grow with every batch."""
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "33" * 32)
    data = tmp_path / "data"
    ingest(data, TIMELINE)
    days = event_days(data)
    con = duckdb_connection()

    def tables() -> int:
        return con.con.sql("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall()[0][0]

    held: list[int] = []
    done = process_days(
        data,
        days,
        params=ProcessParams(events_per_query=1),  # one batch per day
        con=con,
        on_day=lambda _day, _computed: held.append(tables()),
    )
    assert len(done) == len(days) >= 3
    assert held == [held[0]] * len(days)  # the same tables at each day: none left over
    assert tables() == 0  # and none once processing is done


def test_days_too_far_apart_for_one_querys_time_key_go_in_separate_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A record's order key holds its time since the query's start in the bits the cell key
    leaves (``boundaries.time_bits``): a backfill of years on a large registry must be split."""
    together, apart = _twins(tmp_path, monkeypatch)
    days = event_days(together)
    process_days(together, days)
    # 2**17 s: one day and its 12 hours of lookback fit, two days do not.
    monkeypatch.setattr(process, "time_bits", lambda _keys: 17)
    queries: list[str] = []
    process_days(apart, days, on_step=lambda name, _pct: queries.append(name))
    assert queries.count("sorting records") == len(days) >= 3
    assert _stays(together) == _stays(apart)
    assert _spans(together) == _spans(apart)
    # Not even one day fits: a clear error, and nothing is written.
    monkeypatch.setattr(process, "time_bits", lambda _keys: 15)
    with pytest.raises(ValueError, match="cell keys"):
        process_days(apart, days, force=True)
    assert _stays(together) == _stays(apart)
