"""The cells file: read whatever encoding Chinese exports use; bad rows counted, bad files named."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from episignal.ingest.cells import CellsFileError
from episignal.ingest.run import ingest_files
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from tests.core_world import at, write_events

HEADER = "cell_id,carrier,lon,lat,radius_m,county_code,country\n"
NUMBER = "+8613800138000"


def _ingest(tmp_path: Path, cells: Path):
    events = write_events(tmp_path / "e.csv", {NUMBER: [(at(0, "08:00"), "BJ-1")]})
    return ingest_files(tmp_path / "data", "canonical", [events], cells_path=cells)


def test_a_gbk_cells_file_is_read_with_its_chinese_names(tmp_path: Path) -> None:
    cells = tmp_path / "cells.csv"
    cells.write_bytes((HEADER + "BJ-1,中国移动,116.41,39.93,800,110101,CN\n").encode("gbk"))
    report = _ingest(tmp_path, cells)
    assert report.accepted == 1
    events = VersionedDataset(Layout(tmp_path / "data").events)
    assert [dict(p)["carrier"] for p in events.partitions()] == ["中国移动"]


def test_rows_with_a_wrong_field_count_are_rejected_and_counted(tmp_path: Path) -> None:
    cells = tmp_path / "cells.csv"
    cells.write_text(
        HEADER
        + "BJ-1,46000,116.41,39.93,800,110101,CN\n"
        + "BJ-2,46000,116.41,39.93\n"
        + "BJ-3,46000,116.41,39.93,800,110101,CN,extra\n"
    )
    report = _ingest(tmp_path, cells)
    assert report.cells is not None
    assert (report.cells.rows, report.cells.accepted) == (3, 1)
    assert report.cells.rejected == {"field_count": 2}


def test_an_unreadable_cells_file_is_a_clear_error(tmp_path: Path) -> None:
    cells = tmp_path / "cells.parquet"
    cells.write_bytes(b"not parquet")
    with pytest.raises(CellsFileError, match=r"cells\.parquet: cannot be read"):
        _ingest(tmp_path, cells)


def test_a_municipality_grouping_code_places_the_cell_and_a_province_code_is_rejected(
    tmp_path: Path,
) -> None:
    cells = tmp_path / "cells.csv"
    cells.write_text(
        HEADER
        + "BJ-1,46000,116.41,39.93,800,110100,CN\n"  # 北京 市辖区: the municipality
        + "CQ-1,46000,106.55,29.56,800,500200,CN\n"  # 重庆 县: the municipality
        + "HB-1,46000,114.30,30.60,800,420000,CN\n"  # 湖北省: no prefecture-level place
    )
    report = _ingest(tmp_path, cells)
    assert report.cells is not None
    assert (report.cells.accepted, report.cells.rejected) == (2, {"province_code": 1})
    assert report.accepted == 1
    registry = VersionedDataset(Layout(tmp_path / "data").cells)
    placed = pq.read_table(registry.files()).select(["cell_id", "place_code"]).to_pylist()
    assert sorted((r["cell_id"], r["place_code"]) for r in placed) == [
        ("BJ-1", "110000"),
        ("CQ-1", "500000"),
    ]
