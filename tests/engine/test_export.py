"""The itinerary export as another tool reads it (docs/data-contracts.md, "Itinerary export")."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import BinaryIO

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import typer
from typer.testing import CliRunner

from episignal.cli import app
from episignal.cli_common import write_export
from episignal.privacy.pseudonym import Pseudonymiser
from tests.core_world import DAY0, XIAOGAN, at, every, ingest

NUMBER = "+8613800138000"


def test_the_export_is_plain_csv_with_one_row_per_subscriber_and_place(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out" / "itinerary.csv"
    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "14:00"), "46000-2-2")})
    args = ["itinerary", "--date", DAY0.isoformat(), "--out", str(out), "--data", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    # Bare names and values: a reader that splits on commas gets the same fields as a CSV parser.
    assert lines[0] == "subscriber,place_code,place_name,first_arrival,last_departure"
    me = Pseudonymiser.for_data_dir(data)(NUMBER)
    assert lines[1:] == [f"{me},{XIAOGAN},湖北省孝感市,2020-01-20T01:00:00Z,2020-01-20T06:00:00Z"]
    assert [r["place_code"] for r in csv.DictReader(out.open(encoding="utf-8"))] == [XIAOGAN]
    # The same command again gives the same bytes, and leaves no temporary file beside it.
    before = out.read_bytes()
    assert CliRunner().invoke(app, args).exit_code == 0
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["itinerary.csv"]


def test_a_value_that_needs_quotes_is_quoted_and_reads_back(tmp_path: Path) -> None:
    table = pa.table({"name": ["plain", "with, comma", 'with "quote"'], "n": [1, 2, 3]})
    out = tmp_path / "t.csv"
    write_export(table, out)
    assert out.read_text().splitlines()[0] == "name,n"
    rows = list(csv.reader(out.open()))
    assert rows == [["name", "n"], ["plain", "1"], ["with, comma", "2"], ['with "quote"', "3"]]


def test_an_export_that_fails_midway_leaves_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "t.csv"
    write_export(pa.table({"a": [1]}), out)

    def broken(table: pa.Table, sink: BinaryIO, options: object) -> None:
        sink.write(b"1\n2\n")  # part of the rows written, then the disk fills up
        raise OSError("No space left on device")

    monkeypatch.setattr(pacsv, "write_csv", broken)
    with pytest.raises(typer.Exit):  # "cannot write …: No space left on device", no traceback
        write_export(pa.table({"a": [1, 2, 3]}), out)
    assert out.read_text() == "a\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]


@pytest.mark.parametrize("where", ["a directory", "the current directory", "under a file"])
def test_an_export_that_cannot_be_written_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    data = tmp_path / "data"
    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "14:00"), "46000-2-2")})
    out = {
        "a directory": tmp_path,
        "the current directory": Path("."),
        "under a file": tmp_path / "cells.csv" / "it.csv",
    }[where]
    args = ["itinerary", "--date", DAY0.isoformat(), "--out", str(out), "--data", str(data)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert f"cannot write {out}" in " ".join(result.output.split())  # as the terminal wraps it
    assert "Traceback" not in result.output


def test_an_export_through_a_link_or_into_a_pipe_writes_where_it_points(tmp_path: Path) -> None:
    import os
    import threading

    table = pa.table({"a": [1, 2]})
    # A link to the file the readers know: the file gets the rows, the link stays a link.
    real, link = tmp_path / "real.csv", tmp_path / "latest.csv"
    real.write_text("old\n")
    link.symlink_to(real)
    write_export(table, link)
    assert link.is_symlink() and real.read_text() == "a\n1\n2\n"
    # A pipe (as /dev/stdout is when the export is piped on): written into, never replaced.
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    write_export(table, fifo)
    reader.join(timeout=30)
    assert got == [b"a\n1\n2\n"]
    assert fifo.is_fifo()
