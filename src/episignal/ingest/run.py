"""Ingest run: raw files → validated, pseudonymised, de-duplicated canonical events; nothing lost.

Every input row ends up in exactly one of: accepted (written to the events dataset), quarantined
(with its reason, the number masked), or dropped as an exact duplicate of a row already accepted;
``IngestReport`` accounts for each file. The events dataset and the quarantine change atomically
(see ``episignal.lake``): a crash leaves the previous state, and re-ingesting the same files adds
nothing.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pyarrow as pa

from episignal.engine.backend import duckdb_connection
from episignal.ingest.cells import CellsReport, ingest_cells
from episignal.ingest.events import (
    CLOCK_SKEW_TOLERANCE_S,
    EARLIEST_EVENT_UTC_S,
    LOCAL_UTC_OFFSET_S,
    Reason,
)
from episignal.ingest.formats import FORMATS, FeedFormat
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.pseudonym import load_key, pseudonymise

EVENT_COLUMNS = ("subscriber", "ts_utc_s", "cell_id", "event_type")
# A delimiter that never occurs in text exports, so that the CSV reader hands us whole lines and
# field splitting (and counting) stays ours: a wrong field count is quarantined, not an error.
_WHOLE_LINE_DELIMITER = "\x1f"


class IngestError(ValueError):
    """The run cannot start (unknown format, no cell registry, unreadable file)."""


@dataclass
class FileReport:
    file: str
    rows_read: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    @property
    def balanced(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined_total + self.duplicates


@dataclass
class IngestReport:
    batch: str
    format: str
    files: list[FileReport]
    cells: CellsReport | None
    partitions_written: int
    seconds: float

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def quarantined(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.files:
            for k, v in f.quarantined.items():
                out[k] = out.get(k, 0) + v
        return out

    def to_json(self) -> str:
        d = asdict(self)
        d.update(rows_read=self.rows_read, accepted=self.accepted, duplicates=self.duplicates)
        return json.dumps(d, ensure_ascii=False)


def _read_lines(con: ibis.BaseBackend, fmt: FeedFormat, paths: Sequence[Path]) -> ir.Table:
    t = con.read_csv(
        [str(p) for p in paths],
        columns={"line": "VARCHAR"},
        delim=_WHOLE_LINE_DELIMITER,
        quote="",
        escape="",
        header=False,
        filename=True,
        auto_detect=False,
    )
    t = t.mutate(line=t.line.re_replace(r"\r$", ""))  # tolerate CRLF exports
    # The reader keeps file order (preserve_insertion_order), so this is the line number.
    t = t.mutate(line_no=ibis.row_number().over(group_by=t.filename) + 1).rename(file="filename")
    if fmt.header is not None:
        t = t.filter(~((t.line_no == 1) & (t.line == fmt.header)))
    return t.filter(t.line != "")


def _read_parquet_events(con: ibis.BaseBackend, paths: Sequence[Path]) -> ir.Table:
    """Canonical Parquet, validated by the same parser as the CSV: each row is rendered as a line.

    A timestamp column is taken as UTC (rendered with "Z"); a text column must carry its offset.
    """
    t = con.read_parquet([str(p) for p in paths], filename=True)
    ts = t.ts.strftime("%Y-%m-%dT%H:%M:%SZ") if t.ts.type().is_timestamp() else t.ts.cast(dt.string)
    line = ibis.literal(",").join(
        [t[c].cast(dt.string).fill_null("") for c in ("msisdn",)]
        + [ts.fill_null("")]
        + [t[c].cast(dt.string).fill_null("") for c in ("cell_id", "event_type")]
    )
    lines = t.select(
        file="filename", line_no=ibis.row_number().over(group_by=t.filename) + 1, line=line
    )
    return FORMATS["canonical"].parse(lines)


def _mask_field(field_: ir.StringValue) -> ir.StringValue:
    """138****8000 style: at most the first 3 and last 4 characters of the number field survive."""
    n = field_.length()
    return (n >= 8).ifelse(field_.left(3) + "****" + field_.right(4), ibis.literal("*").repeat(n))


def _classify(parsed: ir.Table, cells: ir.Table, now_utc_s: int) -> ir.Table:
    joined = parsed.left_join(cells, parsed.cell_id == cells.cell_id).drop("cell_id_right")
    reason = ibis.cases(
        (~joined.fields_ok, Reason.FIELD_COUNT.value),
        (joined.e164.isnull(), Reason.BAD_NUMBER.value),
        (
            joined.ts_utc_s.isnull() | (joined.ts_utc_s < EARLIEST_EVENT_UTC_S),
            Reason.BAD_TIME.value,
        ),
        (joined.cell_id.isnull(), Reason.BAD_CELL_ID.value),
        (joined.event_type.isnull(), Reason.BAD_EVENT_TYPE.value),
        (joined.cell_carrier.isnull(), Reason.UNKNOWN_CELL.value),
        (joined.ts_utc_s > now_utc_s + CLOCK_SKEW_TOLERANCE_S, Reason.FUTURE_TIME.value),
        else_=ibis.null(dt.string),
    )
    return joined.mutate(reason=reason)


def _pseudonym_table(con: ibis.BaseBackend, accepted: ir.Table, key: bytes) -> ir.Table:
    """Distinct numbers → pseudonyms, hashed in Python once per number (not per row)."""
    numbers = con.to_pyarrow(accepted.select("e164").distinct())["e164"].to_pylist()
    table = pa.table(
        {"e164": numbers, "subscriber": [pseudonymise(n, key) for n in numbers]},
        schema=pa.schema([("e164", pa.string()), ("subscriber", pa.string())]),
    )
    return con.create_table(f"pseudonyms_{uuid.uuid4().hex[:8]}", ibis.memtable(table), temp=True)


def ingest_files(
    data_dir: Path,
    fmt_name: str,
    paths: Sequence[Path],
    *,
    cells_path: Path | None = None,
    carrier: str | None = None,
    now_utc_s: int | None = None,
    progress: Callable[[str], None] = lambda _msg: None,
) -> IngestReport:
    started = time.perf_counter()
    if fmt_name not in FORMATS:
        raise IngestError(f"unknown format {fmt_name!r}; choose one of {', '.join(FORMATS)}")
    fmt = FORMATS[fmt_name]
    # DuckDB reports each row's file by the path it was given: absolute paths make the per-file
    # accounting independent of how the caller spelled them.
    paths = [Path(p).resolve() for p in paths]
    for p in paths:
        if not p.is_file():
            raise IngestError(f"no such file: {p}")
    layout = Layout(data_dir).ensure()
    registry = VersionedDataset(layout.cells)
    cells_report = None
    if cells_path is not None:
        progress("cells")
        cells_report = ingest_cells(cells_path, registry)
    if not registry.files():
        raise IngestError("no cell registry yet: pass --cells CELLS with the first ingest")
    now = int(time.time()) if now_utc_s is None else now_utc_s
    batch = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]

    con = duckdb_connection()
    cells = con.read_parquet([str(f) for f in registry.files()]).select(
        "cell_id", cell_carrier="carrier"
    )
    progress("parse")
    parquet_inputs = [p for p in paths if p.suffix == ".parquet"]
    text_inputs = [p for p in paths if p.suffix != ".parquet"]
    if parquet_inputs and fmt_name != "canonical":
        raise IngestError("Parquet input is only defined for --format canonical")
    parts = []
    if text_inputs:
        parts.append(fmt.parse(_read_lines(con, fmt, text_inputs)))
    if parquet_inputs:
        parts.append(_read_parquet_events(con, parquet_inputs))
    parsed = parts[0] if len(parts) == 1 else ibis.union(*parts)
    classified = con.create_table(
        f"classified_{batch[-6:]}", _classify(parsed, cells, now), temp=True
    )

    accepted = classified.filter(classified.reason.isnull())
    pseudonyms = _pseudonym_table(con, accepted, load_key(data_dir))
    carrier_col = (
        ibis.literal(carrier or fmt.carrier) if (carrier or fmt.carrier) else accepted.cell_carrier
    )
    local_day = ((accepted.ts_utc_s + LOCAL_UTC_OFFSET_S) // 86400 * 86400).as_timestamp("s")
    new_rows = (
        accepted.mutate(carrier=carrier_col, local_date=local_day.date().cast(dt.string))
        .join(pseudonyms, "e164")
        .select("file", "line_no", *EVENT_COLUMNS, "carrier", "local_date")
    )
    new_rows = con.create_table(f"new_{batch[-6:]}", new_rows, temp=True)

    events = VersionedDataset(layout.events)
    affected = con.to_pyarrow(new_rows.select("local_date", "carrier").distinct()).to_pylist()
    affected_keys = {(r["local_date"], r["carrier"]) for r in affected}
    existing_files = events.files_of(
        [(("local_date", d), ("carrier", c)) for d, c in affected_keys]
    )
    progress("deduplicate")
    combined = new_rows.mutate(prio=1)
    if existing_files:
        old = con.read_parquet(
            [str(f) for f in existing_files], hive_partitioning=True, hive_types_autocast=False
        ).select(*EVENT_COLUMNS, "carrier", "local_date")
        old = old.mutate(
            file=ibis.literal(""), line_no=ibis.literal(0, dt.int64), prio=ibis.literal(0)
        )
        combined = ibis.union(old.select(*combined.columns), combined)
    rank = ibis.row_number().over(
        group_by=[combined[c] for c in EVENT_COLUMNS],
        order_by=[combined.prio, combined.file, combined.line_no],
    )
    ranked = con.create_table(f"ranked_{batch[-6:]}", combined.mutate(rank=rank), temp=True)

    # ---- accounting per file -----------------------------------------------------------------
    reports: dict[str, FileReport] = {str(p): FileReport(str(p)) for p in paths}
    for row in con.to_pyarrow(classified.group_by("file").aggregate(n=ibis._.count())).to_pylist():
        reports[row["file"]].rows_read = row["n"]
    for row in con.to_pyarrow(
        classified.filter(classified.reason.notnull())
        .group_by(["file", "reason"])
        .aggregate(n=ibis._.count())
    ).to_pylist():
        reports[row["file"]].quarantined[row["reason"]] = row["n"]
    new_ranked = ranked.filter(ranked.prio == 1)
    for row in con.to_pyarrow(
        new_ranked.group_by("file").aggregate(
            accepted=(ibis._.rank == 0).sum(), duplicates=(ibis._.rank > 0).sum()
        )
    ).to_pylist():
        reports[row["file"]].accepted = int(row["accepted"])
        reports[row["file"]].duplicates = int(row["duplicates"])

    # ---- write events and quarantine atomically, each ------------------------------------------
    progress("write")
    # ibis row_number() counts from 0: rank 0 is the row kept (existing data first, then file order)
    keep = ranked.filter(ranked.rank == 0).order_by(
        ["local_date", "carrier", "subscriber", "ts_utc_s"]
    )
    with events.change() as staging:
        scratch = staging.path / ".new"
        if affected_keys:
            con.to_parquet(
                keep.select(*EVENT_COLUMNS, "local_date", "carrier"),
                scratch,
                partition_by=("local_date", "carrier"),
            )
        for local_date, carrier_code in sorted(affected_keys):
            part = (("local_date", local_date), ("carrier", carrier_code))
            target = staging.partition_dir(part)
            src = scratch / f"local_date={local_date}" / f"carrier={carrier_code}"
            for i, f in enumerate(sorted(src.glob("*.parquet"))):
                f.rename(target / f"part-{i:04d}.parquet")
        if scratch.exists():
            shutil.rmtree(scratch)

    quarantined = classified.filter(classified.reason.notnull())
    n_quarantined = sum(r.quarantined_total for r in reports.values())
    if n_quarantined:
        quarantine = VersionedDataset(layout.quarantine)
        masked = quarantined.select(
            "file",
            "line_no",
            "reason",
            line=quarantined.line.replace(
                quarantined.field.fill_null("\x00"), _mask_field(quarantined.field.fill_null(""))
            ),
            batch=ibis.literal(batch),
        )
        with quarantine.change() as staging:
            out = staging.partition_dir((("batch", batch),)) / "rows.parquet"
            con.to_parquet(masked, out)

    report = IngestReport(
        batch=batch,
        format=fmt_name,
        files=list(reports.values()),
        cells=cells_report,
        partitions_written=len(affected_keys),
        seconds=round(time.perf_counter() - started, 3),
    )
    with layout.ingest_log.open("a", encoding="utf-8") as log:
        log.write(report.to_json() + "\n")
    return report
