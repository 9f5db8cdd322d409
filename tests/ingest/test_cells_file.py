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


def test_cells_coded_with_current_division_codes_are_placed_and_listed(tmp_path: Path) -> None:
    """A registry written from a current code list (codes made since cpca's table) loses no cell:
    each is placed in its prefecture-level place and the itinerary names it."""
    import datetime as dt

    from episignal.engine.itinerary import itineraries_for_date
    from tests.core_world import DAY0, every

    cells = tmp_path / "cells.csv"
    cells.write_text(
        HEADER
        + "LP-1,46000,120.30,30.42,800,330113,CN\n"  # 临平区 (2021), in 杭州
        + "LW-1,46000,117.68,36.21,800,370116,CN\n"  # 莱芜区 (2019), in 济南
        + "NQ-1,46000,92.05,31.48,800,540602,CN\n"  # 色尼区 of 那曲市 (a prefecture since 2017)
        + "HY-1,46000,84.83,44.69,800,659010,CN\n"  # 胡杨河市 (2019), administered directly
    )
    timeline = [
        *every(at(0, "00:00"), at(0, "05:00"), "LP-1"),
        *every(at(0, "07:00"), at(0, "12:00"), "LW-1"),
        *every(at(0, "14:00"), at(0, "19:00"), "NQ-1"),
        *every(at(1, "02:00"), at(1, "07:00"), "HY-1"),
    ]
    events = write_events(tmp_path / "e.csv", {NUMBER: timeline})
    report = ingest_files(tmp_path / "data", "canonical", [events], cells_path=cells)
    assert report.cells is not None
    assert (report.cells.accepted, report.cells.rejected) == (4, {})
    assert report.accepted == len(timeline)
    table = itineraries_for_date(tmp_path / "data", DAY0 + dt.timedelta(days=1), days=2)
    assert sorted((r["place_code"], r["place_name"]) for r in table.to_pylist()) == [
        ("330100", "浙江省杭州市"),
        ("370100", "山东省济南市"),
        ("540600", "西藏自治区那曲市"),
        ("659010", "新疆维吾尔自治区胡杨河市"),
    ]


def test_a_cell_listed_twice_keeps_its_last_row_and_a_later_file_replaces_it(
    tmp_path: Path,
) -> None:
    first = tmp_path / "cells.csv"
    first.write_text(
        HEADER
        + "BJ-1,46000,116.41,39.93,800,110101,CN\n"
        + "WH-1,46000,114.30,30.60,800,420102,CN\n"
        + "BJ-1,46000,114.31,30.61,800,420102,CN\n"  # the same id again: moved to 武汉
    )
    _ingest(tmp_path, first)
    registry = VersionedDataset(Layout(tmp_path / "data").cells)

    def placed() -> list[tuple[str, str]]:
        rows = pq.read_table(registry.files()).select(["cell_id", "place_code"]).to_pylist()
        return sorted((r["cell_id"], r["place_code"]) for r in rows)

    assert placed() == [("BJ-1", "420100"), ("WH-1", "420100")]
    later = tmp_path / "later.csv"
    later.write_text(HEADER + "WH-1,46000,116.40,39.92,800,110102,CN\n")  # WH-1 moved to 北京
    _ingest(tmp_path, later)
    assert placed() == [("BJ-1", "420100"), ("WH-1", "110000")]


def test_every_kind_of_bad_cell_row_is_rejected_for_its_own_reason(tmp_path: Path) -> None:
    cells = tmp_path / "cells.csv"
    cells.write_text(
        HEADER
        + "BJ-1,46000,116.41,39.93,800,110101,CN\n"  # good
        + " WH-1 ,46000, 114.30 , 30.60 ,1e3, 420102.0 ,cn\n"  # good: spaces, 1e3, 420102.0, cn
        + "JP-1,44010,139.69,35.68,500,,jp\n"  # good: abroad
        + "bad id,46000,116.41,39.93,800,110101,CN\n"  # bad_cell_id (a space)
        + ",46000,116.41,39.93,800,110101,CN\n"  # bad_cell_id (empty)
        + "C-1,46000,181,39.93,800,110101,CN\n"  # bad_coordinates
        + "C-2,46000,east,39.93,800,110101,CN\n"  # bad_coordinates
        + "C-3,46000,116.41,39.93,0,110101,CN\n"  # bad_radius
        + "C-4,46000,116.41,39.93,wide,110101,CN\n"  # bad_radius (not a number)
        + "C-5,46000,116.41,39.93,inf,110101,CN\n"  # bad_radius (no finite coverage)
        + "C-6,46000,116.41,39.93,800,110101,CHN\n"  # bad_country
        + "C-7,46000,116.41,39.93,800,999999,CN\n"  # unknown_county
        + "C-8,46000,116.41,39.93,800,,CN\n"  # unknown_county (none at home)
        + "C-9,46000,114.30,30.60,800,420000,CN\n"  # province_code
    )
    report = _ingest(tmp_path, cells)
    assert report.cells is not None
    assert report.cells.accepted == 3
    assert report.cells.rejected == {
        "bad_cell_id": 2,
        "bad_coordinates": 2,
        "bad_radius": 3,
        "bad_country": 1,
        "unknown_county": 2,
        "province_code": 1,
    }
    registry = VersionedDataset(Layout(tmp_path / "data").cells)
    rows = pq.read_table(registry.files()).to_pylist()
    got = {
        r["cell_id"]: (r["place_code"], r["county_code"], r["country"], r["radius_m"]) for r in rows
    }
    assert got == {
        "BJ-1": ("110000", "110101", "CN", 800.0),
        "WH-1": ("420100", "420102", "CN", 1000.0),
        "JP-1": ("JP", "", "JP", 500.0),
    }
