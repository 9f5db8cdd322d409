"""The canonical events file is standard CSV: quoted fields, any column order, extra columns;
and a file that is not clean UTF-8 text loses no row."""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from episignal.ingest.run import IngestError, ingest_files
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from tests.core_world import write_cells

CANONICAL = ("msisdn", "ts", "cell_id", "event_type")
ROWS = [
    ("+8613800138000", "2020-01-20T08:15:00+08:00", "46000-1-1", "data"),
    ("8613800138000", "2020-01-20T09:15:00+08:00", "46000-2-2", "call"),
    ("+447700900123", "2020-01-20T01:15:00Z", "44010-1-1", "attach"),
]
# What the three rows are once ingested: (ts_utc_s, cell_id, event_type).
STORED = [
    (1579479300, "46000-1-1", "data"),
    (1579482900, "44010-1-1", "attach"),
    (1579482900, "46000-2-2", "call"),
]


def _stored(data: Path) -> list[tuple]:
    files = [str(f) for f in VersionedDataset(Layout(data).events).files()]
    return duckdb.sql(
        f"SELECT ts_utc_s, cell_id, event_type FROM read_parquet({files})"
        " ORDER BY ts_utc_s, cell_id"
    ).fetchall()


def _quarantined(data: Path) -> list[tuple]:
    files = [str(f) for f in VersionedDataset(Layout(data).quarantine).files()]
    if not files:
        return []
    return duckdb.sql(
        f"SELECT line_no, reason, line FROM read_parquet({files}) ORDER BY line_no"
    ).fetchall()


def _write(path: Path, header: list[str], rows: list[list[str]], quoting: int) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f, quoting=quoting)
        w.writerow(header)
        w.writerows(rows)
    return path


def _ingest(tmp_path: Path, feed: Path) -> Path:
    data = tmp_path / "data"
    report = ingest_files(data, "canonical", [feed], cells_path=write_cells(tmp_path / "c.csv"))
    assert report.rows_read == report.accepted + sum(report.quarantined.values()) + (
        report.duplicates
    )
    return data


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "33" * 32)


def test_quoted_fields_and_a_quoted_header_are_read_like_plain_ones(tmp_path: Path) -> None:
    feed = _write(tmp_path / "e.csv", list(CANONICAL), [list(r) for r in ROWS], csv.QUOTE_ALL)
    assert feed.read_bytes().decode().startswith('"msisdn","ts","cell_id","event_type"\r\n"+86')
    data = _ingest(tmp_path, feed)
    assert _stored(data) == STORED
    assert _quarantined(data) == []


def test_columns_are_found_by_their_header_names(tmp_path: Path) -> None:
    header = ["event_type", "carrier", "cell_id", "ts", "msisdn"]  # reordered, one extra column
    rows = [[r[3], "46000", r[2], r[1], r[0]] for r in ROWS]
    data = _ingest(tmp_path, _write(tmp_path / "e.csv", header, rows, csv.QUOTE_MINIMAL))
    assert _stored(data) == STORED


def test_a_row_that_does_not_fit_the_header_is_quarantined_with_its_text(tmp_path: Path) -> None:
    feed = tmp_path / "e.csv"
    feed.write_text(
        "ts,msisdn,cell_id,event_type\n"
        "2020-01-20T08:15:00+08:00,+8613800138000,46000-1-1,data\n"
        '"2020-01-20T08:16:00+08:00","+8613800138000","46000-1-1","data","x"\n'
        "2020-01-20T08:17:00+08:00,+8613800138000,46000-1-99,data\n"
    )
    data = _ingest(tmp_path, feed)
    assert _stored(data) == [(1579479300, "46000-1-1", "data")]
    assert _quarantined(data) == [
        (3, "field_count", '"2020-01-20T08:16:00+08:00","+86****8000","46000-1-1","data","x"'),
        (4, "unknown_cell", "2020-01-20T08:17:00+08:00,+86****8000,46000-1-99,data"),
    ]


def test_a_header_without_the_canonical_columns_is_an_error_not_data(tmp_path: Path) -> None:
    feed = tmp_path / "e.csv"
    feed.write_text(
        "phone,time,cell,type\n+8613800138000,2020-01-20T08:15:00+08:00,46000-1-1,data\n"
    )
    data = tmp_path / "data"
    report = ingest_files(data, "canonical", [feed], cells_path=write_cells(tmp_path / "c.csv"))
    # Without the canonical names the first line is a row like any other: quarantined, counted.
    (f,) = report.files
    assert (f.rows_read, f.accepted, f.quarantined) == (2, 1, {"bad_number": 1})


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order=st.permutations(range(4)),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
    extra=st.lists(st.sampled_from(["carrier", "imsi", "note"]), unique=True, max_size=2),
    case=st.sampled_from([str.lower, str.upper, str.title]),
)
def test_any_column_order_quoting_case_and_extra_columns_store_the_same_events(
    tmp_path_factory: pytest.TempPathFactory,
    order: list[int],
    quoting: int,
    extra: list[str],
    case: Callable[[str], str],
) -> None:
    tmp_path = tmp_path_factory.mktemp("csv")
    header = [case(CANONICAL[i]) for i in order] + extra
    rows = [[r[i] for i in order] + ["x"] * len(extra) for r in ROWS]
    data = _ingest(tmp_path, _write(tmp_path / "e.csv", header, rows, quoting))
    assert _stored(data) == STORED
    assert _quarantined(data) == []


@pytest.mark.parametrize("compressed", [False, True])
def test_a_file_not_in_utf8_or_with_mixed_line_ends_loses_no_row(
    tmp_path: Path, compressed: bool
) -> None:
    good = [",".join(r) for r in ROWS]
    text = (
        b"msisdn,ts,cell_id,event_type\n"
        + (good[0] + "\r\n").encode()
        + "+8613800138000,2020-01-20T08:16:00+08:00,武汉-1,data\r".encode("gbk")  # lone CR
        + (good[1] + "\n" + good[2] + "\n").encode()
    )
    feed = tmp_path / ("e.csv.gz" if compressed else "e.csv")
    feed.write_bytes(gzip.compress(text) if compressed else text)
    data = _ingest(tmp_path, feed)
    assert _stored(data) == STORED
    ((line_no, reason, line),) = _quarantined(data)
    assert (line_no, reason) == (3, "unknown_cell")
    # A byte that is not UTF-8 is kept as its escape: "武汉" in GBK is CE E4 BA BA, and E4 BA BA
    # happens to be UTF-8 ("人").
    assert line == "+86****8000,2020-01-20T08:16:00+08:00,\\xce人-1,data"
    assert not list(data.glob(".ingest-*"))  # the normalised copy is gone


def test_a_directory_of_parts_is_read_whole_and_its_bookkeeping_files_are_not(
    tmp_path: Path,
) -> None:
    # A carrier's export job writes a directory: parts (some compressed, some in subdirectories),
    # a _SUCCESS marker, checksum files.
    export = tmp_path / "export"
    (export / "day=2020-01-20").mkdir(parents=True)
    _write(export / "part-0.csv", list(CANONICAL), ROWS[:1], csv.QUOTE_MINIMAL)
    part1 = _write(tmp_path / "p1.csv", list(CANONICAL), ROWS[1:], csv.QUOTE_MINIMAL)
    (export / "day=2020-01-20" / "part-1.csv.gz").write_bytes(gzip.compress(part1.read_bytes()))
    (export / "_SUCCESS").write_bytes(b"")
    (export / ".part-0.csv.crc").write_bytes(b"\x00\x01not a feed")
    data = _ingest(tmp_path, export)
    assert _stored(data) == STORED
    assert _quarantined(data) == []


def test_an_empty_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "_SUCCESS").write_bytes(b"")
    with pytest.raises(IngestError, match="no feed files in directory"):
        _ingest(tmp_path, tmp_path / "export")


def test_an_unreadable_parquet_file_is_a_clear_error(tmp_path: Path) -> None:
    feed = tmp_path / "e.parquet"
    feed.write_bytes(b"not parquet at all")
    with pytest.raises(IngestError, match=r"e\.parquet: cannot be read"):
        ingest_files(
            tmp_path / "data", "canonical", [feed], cells_path=write_cells(tmp_path / "c.csv")
        )


def test_a_failed_ingest_says_why_in_one_line_and_nothing_more(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    feed = tmp_path / "e.parquet"
    feed.write_bytes(b"not parquet at all")
    cells = write_cells(tmp_path / "c.csv")
    command = ["ingest", "--cells", str(cells), "--data", str(tmp_path / "data"), str(feed)]
    done = subprocess.run(
        [sys.executable, "-c", "from episignal.cli import main; main()", *command],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
    )
    assert done.returncode == 2
    assert "e.parquet: cannot be read" in done.stderr
    # Nothing after it: no traceback, and no leak report from DuckDB's bindings at exit.
    assert "Traceback" not in done.stderr and "leaked" not in done.stderr


def test_a_zstd_feed_that_is_not_utf8_is_refused_with_a_way_out(tmp_path: Path) -> None:
    import pyarrow as pa

    text = b"msisdn,ts,cell_id,event_type\n" + (
        "+8613800138000,2020-01-20T08:16:00+08:00,武汉-1,data\n".encode("gbk")
    )
    with pa.CompressedOutputStream(str(tmp_path / "e.csv.zst"), "zstd") as out:
        out.write(text)
    with pytest.raises(IngestError, match=r"e\.csv\.zst: not UTF-8.*gzip it"):
        _ingest(tmp_path, tmp_path / "e.csv.zst")
