"""Every raw row follows its carrier's layout (docs/data-contracts.md), except the counted dirt.

The parser here is written from the contract, independently of episignal.ingest.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

NOW = dt.datetime.now(dt.UTC)
CN_MOBILE = re.compile(r"1[3-9]\d{9}")
EVENT_TYPES = {
    "attach",
    "detach",
    "periodic_update",
    "location_update",
    "handover",
    "call",
    "sms",
    "data",
}
B_EVENTS = {"ATTACH", "DETACH", "PLU", "LU", "HO", "MOC", "MTC", "SMS", "DATA"}
SHANGHAI = dt.timezone(dt.timedelta(hours=8))


class Bad(Exception):
    pass


def _time_ok(t: dt.datetime) -> None:
    if t > NOW:
        raise Bad("future_time")


def parse_a(line: str) -> str:
    f = line.split("|")
    if len(f) != 6:
        raise Bad("wrong_field_count")
    number, time, area, cell, code, vplmn = f
    if not CN_MOBILE.fullmatch(number):
        raise Bad("bad_number")
    try:
        t = dt.datetime.strptime(time, "%Y%m%d%H%M%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        raise Bad("bad_time") from None
    _time_ok(t)
    assert code in "12345678" and len(code) == 1
    return f"{vplmn or '46000'}-{int(area)}-{int(cell)}"


def parse_b(row: list[str]) -> str:
    if len(row) != 5:
        raise Bad("wrong_field_count")
    msisdn, ms, eci, event, vplmn = row
    if not (msisdn.startswith("86") and CN_MOBILE.fullmatch(msisdn[2:])):
        raise Bad("bad_number")
    if not ms.isdigit():
        raise Bad("bad_time")
    _time_ok(dt.datetime.fromtimestamp(int(ms) / 1000, dt.UTC))
    assert event in B_EVENTS
    e = int(eci)
    assert e < 1 << 28
    return f"{vplmn or '46001'}-{e // 256}-{e % 256}"


def parse_c(row: list[str]) -> str:
    if len(row) != 4:
        raise Bad("wrong_field_count")
    user, time, ecgi, kind = row
    digits = user.replace(" ", "")
    if not (digits.startswith("+86") and CN_MOBILE.fullmatch(digits[3:])):
        raise Bad("bad_number")
    try:
        t = dt.datetime.fromisoformat(time.replace("Z", "+00:00"))
    except ValueError:
        raise Bad("bad_time") from None
    assert t.tzinfo is not None
    _time_ok(t)
    assert kind in EVENT_TYPES
    mcc, mnc, area, cell = ecgi.split("-")
    return f"{mcc}{mnc}-{int(area)}-{int(cell)}"


def parse_canonical(row: list[str]) -> str:
    if len(row) != 4:
        raise Bad("wrong_field_count")
    msisdn, ts, cell_id, kind = row
    digits = msisdn.removeprefix("+")
    if not (digits.startswith("86") and CN_MOBILE.fullmatch(digits[2:])):
        raise Bad("bad_number")
    try:
        t = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        raise Bad("bad_time") from None
    _time_ok(t)
    assert kind in EVENT_TYPES
    return cell_id


def _rows(path: Path, fmt: str) -> list:
    text = path.read_text(encoding="utf-8").splitlines()
    if fmt == "carrier-a":
        return text
    delimiter = {"carrier-b": ",", "carrier-c": "\t", "canonical": ","}[fmt]
    rows = list(csv.reader(text, delimiter=delimiter))
    header = {
        "carrier-b": ["MSISDN", "EVENT_TIME_MS", "ECI", "EVENT", "VPLMN"],
        "carrier-c": ["user", "time", "ecgi", "type"],
        "canonical": ["msisdn", "ts", "cell_id", "event_type"],
    }[fmt]
    assert rows[0] == header
    return rows[1:]


PARSERS = {
    "carrier-a": parse_a,
    "carrier-b": parse_b,
    "carrier-c": parse_c,
    "canonical": parse_canonical,
}


@pytest.mark.parametrize("fmt", list(PARSERS))
def test_every_raw_row_parses_except_the_dirt_the_truth_counts(baseline: Path, fmt: str) -> None:
    with (baseline / "raw" / "cells.csv").open() as f:
        known_cells = {r["cell_id"] for r in csv.DictReader(f)}
    dirt = pq.read_table(baseline / "truth" / "dirt.parquet").to_pandas()
    files = sorted((baseline / "raw" / fmt).glob("part-*"))
    assert files
    for path in files:
        expected = dict(
            dirt[dirt.file == f"{fmt}/{path.name}"][["kind", "rows"]].itertuples(index=False)
        )
        found: Counter[str] = Counter()
        rows = _rows(path, fmt)
        lines = ["\x1f".join(r) if isinstance(r, list) else r for r in rows]
        for row in rows:
            try:
                cell_id = PARSERS[fmt](row)
            except Bad as bad:
                found[str(bad)] += 1
                continue
            if cell_id not in known_cells:
                found["unknown_cell"] += 1
        found["duplicate"] = len(lines) - len(set(lines))
        assert len(rows) == sum(expected.values())
        for kind in ("bad_time", "wrong_field_count", "bad_number", "future_time", "unknown_cell"):
            assert found[kind] == expected.get(kind, 0), (path.name, kind)
        assert found["duplicate"] == expected["duplicate"]


def test_cells_file_has_contract_columns_and_valid_values(baseline: Path) -> None:
    with (baseline / "raw" / "cells.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == [
        "cell_id",
        "carrier",
        "lon",
        "lat",
        "radius_m",
        "county_code",
        "country",
    ]
    assert len({r["cell_id"] for r in rows}) == len(rows)
    home = [r for r in rows if r["country"] == "CN"]
    abroad = [r for r in rows if r["country"] != "CN"]
    assert {r["carrier"] for r in rows} == {"46000", "46001", "46011"}
    assert all(re.fullmatch(r"\d{6}", r["county_code"]) for r in home)
    assert all(r["county_code"] == "" for r in abroad)
    assert {"JP", "KR", "TH", "US"} <= {r["country"] for r in abroad}
    assert all(float(r["radius_m"]) > 0 for r in rows)
    assert all(r["cell_id"].split("-")[0] == r["carrier"] for r in home)
