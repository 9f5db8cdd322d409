"""Ingest: every row accounted for, numbers never stored, re-runs and crashes harmless."""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from episignal.ingest.run import IngestError, ingest_files
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.secret_file import KeyFileError
from tests.core_world import at, every, write_cells, write_events

NUMBER_E164 = "8613800138000"


def _events(data: Path) -> list[tuple]:
    files = VersionedDataset(Layout(data).events).files()
    return duckdb.sql(
        "SELECT subscriber, ts_utc_s, cell_id, event_type"
        f" FROM read_parquet({[str(f) for f in files]})"
        " ORDER BY ALL"
    ).fetchall()


def _quarantine(data: Path) -> list[tuple]:
    files = VersionedDataset(Layout(data).quarantine).files()
    return duckdb.sql(
        f"SELECT reason, line FROM read_parquet({[str(f) for f in files]}) ORDER BY line_no"
    ).fetchall()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_each_bad_row_is_quarantined_with_its_reason_and_every_row_is_counted(
    tmp_path: Path, data: Path
) -> None:
    raw = tmp_path / "a.txt"
    raw.write_text(
        "13800138000|20200120081500|1|1|3|\n"  # good
        "13800138000|20200120091500|1|2|5|\n"  # good
        "13800138000|20200120091500|1|2|5|\n"  # exact duplicate
        "13800138000|20200125140000|1|1|4|44010\n"  # good, roaming in Japan
        "1380013800|20200120081500|1|1|3|\n"  # bad number (10 digits)
        "13800138000|20200120081500|1|99|3|\n"  # unknown cell
        "13800138000|20200230081500|1|1|3|\n"  # 30 February
        "13800138000|20200120081500|1|1|3\n"  # one field short
        "13800138000|20990120081500|1|1|3|\n"  # in the future
        "13800138000|20200120081500|1|1|12|\n"  # no such event code
    )
    report = ingest_files(data, "carrier-a", [raw], cells_path=write_cells(tmp_path / "c.csv"))
    (f,) = report.files
    assert (f.rows_read, f.accepted, f.duplicates) == (10, 3, 1)
    assert f.quarantined == {
        "bad_number": 1,
        "unknown_cell": 1,
        "bad_time": 1,
        "field_count": 1,
        "future_time": 1,
        "bad_event_type": 1,
    }
    assert f.balanced
    assert len(_events(data)) == 3
    reasons = [r for r, _ in _quarantine(data)]
    assert reasons == [
        "bad_number",
        "unknown_cell",
        "bad_time",
        "field_count",
        "future_time",
        "bad_event_type",
    ]


def test_raw_numbers_never_reach_any_stored_file(tmp_path: Path, data: Path) -> None:
    raw = tmp_path / "a.txt"
    raw.write_text(
        "13800138000|20200120081500|1|1|3|\n"
        "13800138000|20200120081500|1|99|3|\n"  # quarantined rows keep a masked number only
        "13800138000|2020|1|1|3\n"
    )
    ingest_files(data, "carrier-a", [raw], cells_path=write_cells(tmp_path / "c.csv"))
    for path in data.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            assert b"13800138000" not in content, path
            assert b"00138000" not in content, path
    assert all(line.startswith("138****8000") for _, line in _quarantine(data))


def test_quarantined_lines_of_each_layout_are_masked_by_their_own_number_field(
    tmp_path: Path, data: Path
) -> None:
    """The number field is split off a quarantined line with its layout's delimiter, whatever
    the reason (a wrong field count too), and for Parquet rows rendered as canonical lines."""
    cells = write_cells(tmp_path / "c.csv")
    tsv = tmp_path / "c.tsv"
    tsv.write_text(
        "user\ttime\tecgi\ttype\n"
        "+8613800138000\t2020-01-20T08:15:00+08:00\t460-11-1-99\tdata\n"  # unknown cell
        "+8613800138000\t2020-01-20T08:15:00+08:00\n"  # field count
    )
    ingest_files(data, "carrier-c", [tsv], cells_path=cells)
    parquet = tmp_path / "e.parquet"
    pq.write_table(
        pa.table(
            {
                "msisdn": ["+8613800138000", "12"],
                "ts": ["2020-01-20T08:15:00+08:00", "2020-01-20T08:15:00+08:00"],
                "cell_id": ["46000-1-99", "46000-1-1"],
                "event_type": ["data", "data"],
            }
        ),
        parquet,
    )
    ingest_files(data, "canonical", [parquet])
    assert sorted(line for _, line in _quarantine(data)) == sorted(
        [
            "+86****8000,2020-01-20T08:15:00+08:00,46000-1-99,data",  # unknown cell
            "+86****8000\t2020-01-20T08:15:00+08:00",
            "+86****8000\t2020-01-20T08:15:00+08:00\t460-11-1-99\tdata",
            "**,2020-01-20T08:15:00+08:00,46000-1-1,data",  # bad number
        ]
    )


@pytest.mark.parametrize(
    "key",
    [
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",  # looks like hex
        "00" * 32,
        "carrier key 2020 (测试)",
    ],
)
def test_pseudonym_follows_the_published_contract(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    # Anyone holding the key and the contract computes the same id: the key is the setting's text.
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", key)
    events = write_events(tmp_path / "e.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    ingest_files(data, "canonical", [events], cells_path=write_cells(tmp_path / "c.csv"))
    expected = hmac.new(key.encode(), NUMBER_E164.encode(), hashlib.sha256).hexdigest()[:32]
    assert {row[0] for row in _events(data)} == {expected}


def test_the_key_file_line_moved_into_the_setting_keeps_every_pseudonym(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = write_events(tmp_path / "e.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    cells = write_cells(tmp_path / "c.csv")
    ingest_files(tmp_path / "a", "canonical", [events], cells_path=cells)
    line = Layout(tmp_path / "a").pseudonym_key.read_text().strip()
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", line)
    ingest_files(tmp_path / "b", "canonical", [events], cells_path=cells)
    assert _events(tmp_path / "a") == _events(tmp_path / "b")
    assert not Layout(tmp_path / "b").pseudonym_key.exists()


def test_key_file_is_created_once_with_owner_only_permissions(tmp_path: Path, data: Path) -> None:
    events = write_events(tmp_path / "e.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    ingest_files(data, "canonical", [events], cells_path=write_cells(tmp_path / "c.csv"))
    key = Layout(data).pseudonym_key
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_text()
    ingest_files(data, "canonical", [events])
    assert key.read_text() == before


def test_processes_starting_at_once_share_one_whole_key(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Eight processes race to create the key file: each must read the one key that won, never a
    # file whose key is not written yet.
    code = (
        "import sys; from pathlib import Path; from episignal.privacy.pseudonym import load_key;"
        "print(load_key(Path(sys.argv[1])).decode())"
    )
    env = {k: v for k, v in os.environ.items() if k != "EPISIGNAL_PSEUDONYM_KEY"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(tmp_path / "data")],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(8)
    ]
    keys = {proc.communicate(timeout=120)[0].strip() for proc in procs}
    assert keys == {Layout(tmp_path / "data").pseudonym_key.read_text().strip()}
    assert len(keys.pop()) == 64
    assert [f.name for f in (tmp_path / "data").iterdir()] == ["pseudonym.key"]


def test_an_emptied_key_file_is_a_clear_error_not_an_empty_key(tmp_path: Path, data: Path) -> None:
    events = write_events(tmp_path / "e.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    cells = write_cells(tmp_path / "c.csv")
    ingest_files(data, "canonical", [events], cells_path=cells)
    Layout(data).pseudonym_key.write_text("\n")
    with pytest.raises(KeyFileError, match="holds no key"):
        ingest_files(data, "canonical", [events], cells_path=cells)
    # The command says so in one line, without a traceback.
    import subprocess
    import sys

    command = ["ingest", "--format", "canonical", "--data", str(data), str(events)]
    done = subprocess.run(
        [sys.executable, "-c", "from episignal.cli import main; main()", *command],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "EPISIGNAL_PSEUDONYM_KEY"},
        timeout=300,
    )
    assert done.returncode == 2
    assert "holds no key" in done.stderr and "Traceback" not in done.stderr


def test_reingesting_the_same_files_adds_nothing(tmp_path: Path, data: Path) -> None:
    events = write_events(
        tmp_path / "e.csv", {"+" + NUMBER_E164: every(at(0, "08:00"), at(1, "08:00"), "46000-1-1")}
    )
    cells = write_cells(tmp_path / "c.csv")
    first = ingest_files(data, "canonical", [events], cells_path=cells)
    before = _events(data)
    second = ingest_files(data, "canonical", [events], cells_path=cells)
    assert _events(data) == before
    assert second.accepted == 0 and second.duplicates == first.accepted


def test_a_crash_mid_write_leaves_the_previous_dataset_intact(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = write_cells(tmp_path / "c.csv")
    day0 = write_events(tmp_path / "d0.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    ingest_files(data, "canonical", [day0], cells_path=cells)
    before = _events(data)
    version = VersionedDataset(Layout(data).events).current_version()

    def crash(*_a: object, **_k: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("episignal.lake.versioned.VersionedDataset._commit", crash)
    day1 = write_events(tmp_path / "d1.csv", {"+" + NUMBER_E164: [(at(1, "08:00"), "46000-1-1")]})
    with pytest.raises(OSError, match="disk full"):
        ingest_files(data, "canonical", [day1])
    monkeypatch.undo()
    assert VersionedDataset(Layout(data).events).current_version() == version
    assert _events(data) == before
    ingest_files(data, "canonical", [day1])  # and the next run cleans up and succeeds
    assert len(_events(data)) == 2


@pytest.mark.parametrize(
    ("fmt", "text", "cell"),
    [
        ("carrier-a", "13800138000|20200120081500|1|1|3|\n", "46000-1-1"),
        (
            "carrier-b",
            "MSISDN,EVENT_TIME_MS,ECI,EVENT,VPLMN\n8613800138000,1579479300000,257,PLU,\n",
            "46001-1-1",
        ),
        (
            "carrier-c",
            "user\ttime\tecgi\ttype\n"
            "+86 138 0013 8000\t2020-01-20T00:15:00Z\t460-11-1-1\tperiodic_update\n",
            "46011-1-1",
        ),
        (
            "canonical",
            "msisdn,ts,cell_id,event_type\n"
            "+8613800138000,2020-01-20T08:15:00+08:00,46000-1-1,periodic_update\n",
            "46000-1-1",
        ),
    ],
)
def test_every_layout_yields_the_same_canonical_event(
    tmp_path: Path, data: Path, fmt: str, text: str, cell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "11" * 32)
    raw = tmp_path / "feed.txt"
    raw.write_text(text)
    report = ingest_files(data, fmt, [raw], cells_path=write_cells(tmp_path / "c.csv"))
    assert report.accepted == 1, report.to_json()
    ((_, ts, cell_id, kind),) = _events(data)
    assert (ts, cell_id, kind) == (1579479300, cell, "periodic_update")


def test_unknown_format_and_missing_registry_are_clear_errors(tmp_path: Path, data: Path) -> None:
    raw = tmp_path / "e.csv"
    raw.write_text("msisdn,ts,cell_id,event_type\n")
    with pytest.raises(IngestError, match="unknown format"):
        ingest_files(data, "carrier-z", [raw])
    with pytest.raises(IngestError, match="--cells"):
        ingest_files(data, "canonical", [raw])


def test_relative_paths_are_accounted_like_absolute_ones(
    tmp_path: Path, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cells = write_cells(tmp_path / "c.csv")
    write_events(tmp_path / "e.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    monkeypatch.chdir(tmp_path)
    report = ingest_files(data, "canonical", [Path("e.csv")], cells_path=Path(cells.name))
    assert (report.rows_read, report.accepted) == (1, 1)


def test_cell_ids_and_carrier_names_are_whatever_the_cells_file_uses(
    tmp_path: Path, data: Path
) -> None:
    """Cell ids are opaque (carriers name cells in many ways); a carrier name never escapes."""
    cells = tmp_path / "cells.csv"
    cells.write_text(
        "cell_id,carrier,lon,lat,radius_m,county_code,country\n"
        "BJ-0001,China Mobile,116.41,39.93,800,110101,CN\n"
        "0x1A2B3C,../../outside,117.20,39.13,1500,120101,CN\n"
        "tokyo/7,China Mobile,139.69,35.68,500,,JP\n"
        "cell 1,China Mobile,116.41,39.93,800,110101,CN\n"  # whitespace: not an id
    )
    events = tmp_path / "events.csv"
    events.write_text(
        "msisdn,ts,cell_id,event_type\n"
        "+8613800138000,2020-01-20T08:15:00+08:00,BJ-0001,call\n"
        "+8613800138000,2020-01-21T08:15:00+08:00,0x1A2B3C,sms\n"
        "+8613800138000,2020-01-22T08:15:00+08:00,tokyo/7,data\n"
        "+8613800138000,2020-01-22T09:15:00+08:00,cell 1,data\n"
        "+8613800138000,2020-01-22T10:15:00+08:00,BJ-0002,data\n"
    )
    report = ingest_files(data, "canonical", [events], cells_path=cells)
    assert report.cells is not None and report.cells.rejected == {"bad_cell_id": 1}
    (f,) = report.files
    assert (f.accepted, f.quarantined) == (3, {"bad_cell_id": 1, "unknown_cell": 1})
    assert [(cell, kind) for _, _, cell, kind in _events(data)] == [
        ("BJ-0001", "call"),
        ("0x1A2B3C", "sms"),
        ("tokyo/7", "data"),
    ]
    dataset = VersionedDataset(Layout(data).events)
    assert sorted(dict(p)["carrier"] for p in dataset.partitions()) == [
        "../../outside",
        "China Mobile",
        "China Mobile",
    ]
    version = dataset.current_path()
    assert version is not None
    assert all(f.resolve().is_relative_to(version.resolve()) for f in dataset.files())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cells.csv", "data", "events.csv"]


def test_county_codes_written_as_floats_are_read_as_codes(tmp_path: Path, data: Path) -> None:
    # pandas writes a code column with gaps (the cells abroad) as floats.
    cells = tmp_path / "cells.csv"
    cells.write_text(
        "cell_id,carrier,lon,lat,radius_m,county_code,country\n"
        "46000-1-1,46000,114.0,30.6,1000.0,420102.0,CN\n"
        "44010-1-1,46000,139.69,35.68,500.0,,JP\n"
        "46000-1-2,46000,114.0,30.6,1000.0,420102.5,CN\n"  # not a code
    )
    events = write_events(tmp_path / "e.csv", {"+" + NUMBER_E164: [(at(0, "08:00"), "46000-1-1")]})
    report = ingest_files(data, "canonical", [events], cells_path=cells)
    assert report.cells is not None
    assert (report.cells.accepted, report.cells.rejected) == (2, {"unknown_county": 1})
    assert report.accepted == 1


def test_a_number_outside_the_number_field_of_a_bad_line_is_masked_too(
    tmp_path: Path, data: Path
) -> None:
    raw = tmp_path / "e.csv"
    raw.write_text(
        "msisdn,ts,cell_id,event_type\n"
        ",+8613800138000,2020-01-20T08:15:00+08:00,46000-1-1,data\n"  # shifted by one field
        "13900139000 13800138000,2020-01-20T08:15:00+08:00,46000-1-1,data\n"  # two in one field
        # a visitor's number and a landline, written internationally, shifted into other fields
        ",+447911123456,2020-01-20T08:15:00+08:00,46000-1-1,data\n"
        "+8613800138000,2020-01-20T08:15:00+08:00,46000-1-1,data,0085221234567\n"
    )
    ingest_files(data, "canonical", [raw], cells_path=write_cells(tmp_path / "c.csv"))
    for path in data.rglob("*"):
        if path.is_file():
            for digits in (b"00138000", b"00139000", b"911123", b"5221234"):
                assert digits not in path.read_bytes(), (path, digits)
    assert _quarantine(data) == [
        ("field_count", ",+8613*****8000,2020-01-20T08:15:00+08:00,46000-1-1,data"),
        ("bad_number", "139****8000,2020-01-20T08:15:00+08:00,46000-1-1,data"),
        ("field_count", ",+447****3456,2020-01-20T08:15:00+08:00,46000-1-1,data"),
        ("field_count", "+86****8000,2020-01-20T08:15:00+08:00,46000-1-1,data,00852****4567"),
    ]
