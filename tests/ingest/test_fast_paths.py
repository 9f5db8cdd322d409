"""Ingest's fast paths give exactly what the general parsers give, for any input; what they do not
cover still reaches the general path or the quarantine."""

from __future__ import annotations

from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from episignal.cli import COMMANDS, command_app, full_app
from episignal.ingest.cells import ingest_cells
from episignal.ingest.formats import (
    canonical_e164,
    e164_digits,
    iso8601_epoch_s,
    iso8601_epoch_s_fast,
)
from episignal.ingest.run import ingest_files
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.pseudonym import InvalidNumber, normalise_msisdn
from tests.core_world import write_cells

_CON = ibis.duckdb.connect()


def _evaluate(raws: list[str], **exprs) -> dict[str, list]:
    t = ibis.memtable({"raw": raws}, schema={"raw": "string"})
    out = _CON.to_pyarrow(t.select(**{k: f(t.raw) for k, f in exprs.items()}))
    return {k: out[k].to_pylist() for k in exprs}


# ---- time: fixed-width fast path vs the general ISO 8601 parser ---------------------------------

_digit = st.sampled_from("0123456789")
_any_char = st.sampled_from("0123456789+-:T Z.x/")


def _two(lo: int, hi: int) -> st.SearchStrategy[str]:
    return st.integers(lo, hi).map(lambda n: f"{n:02d}")


# The fixed-width shape with plausible and implausible fields (month 13, day 31 in February,
# 24:00:00, leap seconds, offsets beyond ±14 h, "-00:00") …
fixed_width = st.builds(
    lambda y, mo, d, sep, h, mi, s, sign, oh, om: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{sign}{oh}:{om}",
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    _two(0, 13),
    _two(0, 32),
    st.sampled_from("T T"),
    _two(0, 25),
    _two(0, 61),
    _two(0, 61),
    st.sampled_from("+-+ Z"),
    _two(0, 99),
    _two(0, 99),
)
# … the same length with any characters in any place …
same_length = st.text(_any_char, min_size=25, max_size=25)
# … and other shapes the general parser takes or rejects (Z, no seconds, fractions, no offset).
other_shapes = st.one_of(
    st.from_regex(
        r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d{1,6})?)?(Z|[+-]\d\d(:?\d\d)?)?", fullmatch=True
    ),
    st.text(_any_char, max_size=30),
)
timestamps = st.one_of(fixed_width, same_length, other_shapes)


def _mutate(s: str, i: int, c: str) -> str:
    i %= max(len(s), 1)
    return s[:i] + c + s[i + 1 :]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(
            timestamps,
            st.builds(_mutate, fixed_width, st.integers(0, 24), _any_char),
        ),
        min_size=1,
        max_size=60,
    )
)
# Whitespace before the year: strptime skips it, the general parser does not take it.
@example([" 000-01-01T00:00:00-00:00", " 020-01-20T08:15:00+08:00", "\t020-01-20T08:15:00Z+00"])
def test_fixed_width_time_parser_agrees_with_the_general_one(raws: list[str]) -> None:
    got = _evaluate(raws, fast=iso8601_epoch_s_fast, general=iso8601_epoch_s)
    for raw, fast, general in zip(raws, got["fast"], got["general"], strict=True):
        assert fast == general, raw


def test_fixed_width_values_the_fast_parser_rejects_still_get_the_general_answer() -> None:
    raws = ["2020-01-18T24:00:00+08:00", "2020-02-30T01:00:00+08:00", "2020-01-18 21:13:29+08:00"]
    got = _evaluate(raws, fast=iso8601_epoch_s_fast, general=iso8601_epoch_s)
    assert got["fast"] == got["general"]
    assert got["fast"][0] == 1579363200  # 24:00 is midnight of the next day for the general parser
    assert got["fast"][1] is None


# ---- numbers: plain E.164 fast path vs the general normaliser -----------------------------------

numbers = st.one_of(
    st.from_regex(r"\+?(00)?(86)?1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"\+?[1-9][0-9]{6,15}", fullmatch=True),
    st.from_regex(r"\+?[0-9 ()\-.+]{0,18}", fullmatch=True),
    st.text(st.sampled_from("0123456789+ -_x\t"), max_size=18),
    # one character off the "+86" mobile form the GLOB fast path takes
    st.builds(
        _mutate,
        st.from_regex(r"\+861[3-9][0-9]{9}", fullmatch=True),
        st.integers(0, 14),
        st.sampled_from("0123456789+ -x"),
    ),
    st.from_regex(r"\+861[3-9][0-9]{8,10}", fullmatch=True),  # a digit short or long
)


def _canonical_general(raw: ibis.Value) -> ibis.Value:
    """The canonical rule: E.164 digits, "+" optional, i.e. the normaliser with a "+" in front."""
    return e164_digits(raw.startswith("+").ifelse(raw, "+" + raw)).cast(dt.int64)


@settings(max_examples=80, deadline=None)
@given(st.lists(numbers, min_size=1, max_size=60))
def test_canonical_number_fast_path_agrees_with_the_normaliser(raws: list[str]) -> None:
    got = _evaluate(raws, fast=canonical_e164, general=_canonical_general)
    for raw, fast, general in zip(raws, got["fast"], got["general"], strict=True):
        assert fast == general, raw
        try:
            py = int(normalise_msisdn(raw if raw.startswith("+") else "+" + raw))
        except InvalidNumber:
            py = None
        assert fast == py, raw


# ---- canonical rows end to end: fast and slow rows get the same treatment -----------------------


def test_canonical_rows_off_the_fast_paths_are_accepted_or_quarantined_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "22" * 32)
    feed = tmp_path / "e.csv"
    feed.write_text(
        "msisdn,ts,cell_id,event_type\n"
        "+8613800138000,2020-01-20T08:15:00+08:00,46000-1-1,data\n"  # fast paths
        "86 138-0013-8000,2020-01-20T00:16:00Z,46000-1-1,data\n"  # separators, Z
        "+8613800138000,2020-01-20 08:17+08,46000-1-1,data\n"  # no seconds, short offset
        "+8613800138000,2020-01-19T24:00:00+08:00,46000-1-1,data\n"  # 24:00 → general parser
        "+8613800138000,2020-01-20T08:19:00,46000-1-1,data\n"  # no offset
        "+8613800138000,2020-1-20T08:20:00+08:00,46000-1-1,data\n"  # one-digit month
        "+861380013800,2020-01-20T08:21:00+08:00,46000-1-1,data\n"  # one digit short
        "+8613800138000,2020-01-20T08:22:00+08:00,46000-1-99,data\n"  # unknown cell
        "+8613800138000,2020-01-20T08:23:00+08:00,cell 1,data\n"  # malformed cell id
        "+8613800138000,2020-01-20T08:24:00+08:00,46000-1-1\n"  # field short
    )
    data = tmp_path / "data"
    report = ingest_files(data, "canonical", [feed], cells_path=write_cells(tmp_path / "c.csv"))
    (f,) = report.files
    assert (f.rows_read, f.accepted, f.duplicates) == (10, 4, 0)
    assert f.quarantined == {
        "bad_time": 2,
        "bad_number": 1,
        "unknown_cell": 1,
        "bad_cell_id": 1,
        "field_count": 1,
    }
    files = [str(p) for p in VersionedDataset(Layout(data).events).files()]
    times = duckdb.sql(f"SELECT ts_utc_s FROM read_parquet({files}) ORDER BY 1").fetchall()
    base = 1579479300  # 2020-01-20 08:15 +08:00; 24:00 the day before is 00:00
    assert [t for (t,) in times] == [base - 29_700, base, base + 60, base + 120]


# ---- cell registry: an unchanged cells file is not validated again ------------------------------


def test_an_unchanged_cells_file_is_remembered_and_a_changed_one_merged(tmp_path: Path) -> None:
    registry = VersionedDataset(tmp_path / "cells")
    cells = write_cells(tmp_path / "c.csv")
    first = ingest_cells(cells, registry)
    version = registry.current_version()
    again = ingest_cells(cells, registry)
    assert again == first
    assert registry.current_version() == version

    lines = cells.read_text().splitlines()
    other = tmp_path / "other.csv"
    other.write_text("\n".join([lines[0], lines[1].replace(lines[1].split(",")[0], "46000-9-9")]))
    merged = ingest_cells(other, registry)
    assert merged.total_in_registry == first.total_in_registry + 1
    # The registry changed since the first file was merged: it is merged (and counted) again.
    assert ingest_cells(cells, registry).total_in_registry == first.total_in_registry + 1


# ---- command line: a sub-command on its own behaves as in the full app --------------------------


@pytest.mark.parametrize("name", list(COMMANDS))
def test_each_sub_command_alone_has_the_full_apps_help(name: str) -> None:
    runner = CliRunner()
    alone = runner.invoke(command_app(name), [name, "--help"], env={"COLUMNS": "100"})
    full = runner.invoke(full_app(), [name, "--help"], env={"COLUMNS": "100"})
    assert alone.exit_code == full.exit_code == 0
    assert alone.output == full.output


# ---- quarantine: lines are numbered after the (unnumbered, parallel) parse ----------------------


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quarantined_rows_keep_their_line_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newline: str
) -> None:
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "44" * 32)
    good = "+8613800138000,2020-01-20T08:15:00+08:00,46000-1-1,data"
    lines = [
        "msisdn,ts,cell_id,event_type",  # 1: header, left out
        good,  # 2
        "",  # 3: blank, left out but counted in the numbering
        "x,y",  # 4: field count
        good,  # 5: duplicate
        "msisdn,ts,cell_id,event_type",  # 6: a header copy mid-file is a bad row
        "x,y",  # 7: the same bad text again
        "+8613800138000,2020-01-20T08:16:00+08:00,46000-1-99,data",  # 8: unknown cell
    ]
    feed = tmp_path / "e.csv"
    feed.write_bytes(newline.join(lines).encode() + newline.encode())
    data = tmp_path / "data"
    report = ingest_files(data, "canonical", [feed], cells_path=write_cells(tmp_path / "c.csv"))
    (f,) = report.files
    assert (f.rows_read, f.accepted, f.duplicates) == (6, 1, 1)
    files = [str(p) for p in VersionedDataset(Layout(data).quarantine).files()]
    rows = duckdb.sql(
        f"SELECT line_no, reason, line FROM read_parquet({files}) ORDER BY line_no"
    ).fetchall()
    assert rows == [
        (4, "field_count", "*,y"),
        (6, "bad_number", "******,ts,cell_id,event_type"),
        (7, "field_count", "*,y"),
        (8, "unknown_cell", "+86****8000,2020-01-20T08:16:00+08:00,46000-1-99,data"),
    ]
