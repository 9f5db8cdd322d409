"""Ingest run: raw files → validated, pseudonymised, de-duplicated canonical events; nothing lost.

Every input row ends up in exactly one of: accepted (written to the events dataset), quarantined
(with its reason, the number masked), or dropped as an exact duplicate of a row already accepted;
``IngestReport`` accounts for each file. The events dataset and the quarantine change atomically
(see ``episignal.lake``): a crash leaves the previous state, and re-ingesting the same files adds
nothing.
"""

from __future__ import annotations

import gzip
import json
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from episignal.engine.backend import OnStep, duckdb_connection, no_step, query_percent
from episignal.ingest.cells import CellsReport, ingest_cells
from episignal.ingest.events import (
    CLOCK_SKEW_TOLERANCE_S,
    EARLIEST_EVENT_UTC_S,
    Reason,
)
from episignal.ingest.formats import FORMATS, FeedFormat, stage
from episignal.ingest.partitions import (
    EVENT_COLUMNS,
    Names,
    PartitionKey,
    local_day,
    sorted_partitions,
    write_partition,
)
from episignal.ingest.scratch import Scratch, remove_abandoned
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.pseudonym import load_key, pseudonymise_all

# A delimiter that never occurs in text exports, so that the CSV reader hands us whole lines and
# field splitting (and counting) stays ours: a wrong field count is quarantined, not an error.
_WHOLE_LINE_DELIMITER = "\x1f"
_COPY_CHUNK_CHARS = 1 << 20  # normalising copy: characters per read


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


@dataclass(frozen=True)
class _TextFile:
    """How one text file is read: its format (as its header sets it) and its lines."""

    fmt: FeedFormat
    skip: int  # 1: the header line is left out
    path: Path  # the file read: the feed itself, or its normalised copy (``_normalised_copy``)


_OTHER_COMPRESSIONS = frozenset({".zst"})


def _normalised_copy(path: Path, copy: Path) -> Path:
    """A UTF-8 copy with LF line ends of a feed DuckDB cannot read strictly.

    Such a feed is not UTF-8 (a GBK export) or mixes line ends. In the copy CR, LF and CRLF each
    end one line, as an editor counts them, and a byte that is not UTF-8 becomes its escape
    ("\\xce"): valid rows (ASCII) read the same, and a quarantined line keeps every byte.
    """
    # A gzip feed (which DuckDB reads as it is) is copied from its decompressed text. Other
    # compressions DuckDB reads (zstd) cannot be decompressed here: say so rather than copy bytes.
    if path.suffix in _OTHER_COMPRESSIONS:
        raise IngestError(
            f"{path.name}: not UTF-8 or with mixed line ends; decompress it (or gzip it) first"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    with (
        opener(path, "rt", encoding="utf-8", errors="backslashreplace", newline=None) as src,
        copy.open("w", encoding="utf-8", newline="\n") as dst,
    ):
        shutil.copyfileobj(src, dst, _COPY_CHUNK_CHARS)
    return copy


def _csv_lines(con: ibis.BaseBackend, path: Path, skip: int = 0) -> ir.Table:
    """line of each physical line of a text file after the first ``skip`` (empty ones as NULL)."""
    t = con.read_csv(
        str(path),
        columns={"line": "VARCHAR"},
        delim=_WHOLE_LINE_DELIMITER,
        quote="",
        escape="",
        header=False,
        auto_detect=False,
        skip=skip,
    )
    # tolerate CRLF exports; a suffix test is cheaper than a regex on every line
    return t.select(
        line=t.line.endswith("\r").ifelse(t.line.substr(0, t.line.length() - 1), t.line)
    )


def _text_file(con: ibis.BaseBackend, fmt: FeedFormat, path: Path) -> _TextFile:
    """How to read this file: the format as its header sets it; is the header left out."""
    if fmt.header is None:
        return _TextFile(fmt, 0, path)
    first = con.to_pyarrow(_csv_lines(con, path).limit(1))["line"].to_pylist()
    file_fmt, is_header = fmt.for_first_line(first[0] or "") if first else (fmt, False)
    return _TextFile(file_fmt, int(is_header), path)


def _read_lines(con: ibis.BaseBackend, file_id: int, text: _TextFile) -> ir.Table:
    """lines(file_id, line) of one text file, header and empty lines left out, unnumbered.

    Line numbers are only needed for the few quarantined rows (``_numbered_lines`` finds them
    afterwards): numbering every line while parsing would make the parse one sequential stream.
    """
    t = _csv_lines(con, text.path, text.skip)
    return t.select(file_id=ibis.literal(file_id, dt.int32), line=t.line).filter(t.line != "")


def _numbered_lines(con: ibis.BaseBackend, text: _TextFile) -> ir.Table:
    """lines(line_no, line) of one text file, like ``_read_lines`` but with 1-based line numbers."""
    t = _csv_lines(con, text.path, text.skip)
    # The reader keeps file order (preserve_insertion_order), so a row number over the whole read
    # is the line number, and DuckDB computes it streaming, without a sort.
    t = t.select(line_no=ibis.row_number().over() + 1 + text.skip, line=t.line)
    return t.filter(t.line != "")


def _parquet_rows(con: ibis.BaseBackend, path: Path) -> ir.Table:
    """Canonical Parquet, validated by the same parser as the CSV: each row is rendered as a line.

    A timestamp column is taken as UTC (rendered with "Z"); a text column must carry its offset.
    """
    t = con.read_parquet(str(path))
    ts = t.ts.strftime("%Y-%m-%dT%H:%M:%SZ") if t.ts.type().is_timestamp() else t.ts.cast(dt.string)
    line = ibis.literal(",").join(
        [t[c].cast(dt.string).fill_null("") for c in ("msisdn",)]
        + [ts.fill_null("")]
        + [t[c].cast(dt.string).fill_null("") for c in ("cell_id", "event_type")]
    )
    return t.select(line=line)


def _read_parquet_lines(con: ibis.BaseBackend, path: Path, file_id: int) -> ir.Table:
    return _parquet_rows(con, path).mutate(file_id=ibis.literal(file_id, dt.int32))


def _numbered_parquet_lines(con: ibis.BaseBackend, path: Path) -> ir.Table:
    t = _parquet_rows(con, path)
    return t.select(line_no=ibis.row_number().over() + 1, line=t.line)


def _quarantined_rows(
    con: ibis.BaseBackend,
    fmt: FeedFormat,
    classified: ir.Table,
    numbered: ir.Table,
    file_id: int,
    n_bad: int,
) -> pa.Table:
    """line_no, reason, line, field of one file's quarantined rows.

    A row's reason depends on its text alone (registry and clock are fixed for the run), so the
    lines whose text is among the quarantined texts are exactly the quarantined rows; the scan
    stops as soon as all ``n_bad`` of them are found. The number field (for masking) is split off
    the line again here, for these few rows, as ``FeedFormat.parse`` split it.
    """
    bad = classified.filter((classified.file_id == file_id) & classified.reason.notnull())
    bad = bad.select("line", "reason").distinct()
    bad = bad.mutate(field=fmt.number_field(bad.line))
    found = numbered.semi_join(bad, "line").limit(n_bad)
    rows = con.to_pyarrow(found.join(bad, "line").select("line_no", "reason", "line", "field"))
    if rows.num_rows != n_bad:  # would mean a row was lost: never expected, always loud
        raise RuntimeError(f"found {rows.num_rows} of {n_bad} quarantined lines again")
    return rows


def _mask_field(field_: ir.StringValue) -> ir.StringValue:
    """138****8000 style: at most the first 3 and last 4 characters of the number field survive."""
    n = field_.length()
    return (n >= 8).ifelse(field_.left(3) + "****" + field_.right(4), ibis.literal("*").repeat(n))


# A Chinese mobile number anywhere else in a quarantined line (a ragged or shifted line puts the
# number outside the number field): its prefix and last 4 digits survive, as in _mask_field.
_STRAY_MOBILE_RE = r"(^|[^0-9])(\+?(?:86)?1[3-9])[0-9]{5}([0-9]{4})([^0-9]|$)"
_STRAY_MOBILE_MASK = r"\1\2*****\3\4"


# Any other number written internationally ("+" or "00", country code, 8 to 15 digits in all: a
# roaming visitor's, a landline): the prefix, 3 digits and the last 4 survive. A time offset
# ("+08:00") or a cell id has no such digit run.
_STRAY_INTERNATIONAL_RE = r"(^|[^0-9])(\+|00)([1-9][0-9]{2})[0-9]{1,8}([0-9]{4})([^0-9]|$)"
_STRAY_INTERNATIONAL_MASK = r"\1\2\3****\4\5"


def _mask_stray_numbers(line: ir.StringValue) -> ir.StringValue:
    # Each pattern twice: a match takes the character after it, so a number right behind another
    # one (one delimiter between them) is found by the second pass.
    for pattern, mask in (
        (_STRAY_MOBILE_RE, _STRAY_MOBILE_MASK),
        (_STRAY_INTERNATIONAL_RE, _STRAY_INTERNATIONAL_MASK),
    ):
        line = line.re_replace(pattern, mask).re_replace(pattern, mask)
    return line


def _classify(fmt: FeedFormat, parsed: ir.Table, cells: ir.Table, now_utc_s: int) -> ir.Table:
    """Parsed rows → file_id, reason, line, e164, ts_utc_s, cell_idx, event_type_id.

    Only narrow typed columns are kept for every row: ``line`` (needed to write the quarantine)
    only where the row is quarantined, the cell as its index in ``cells``. The number field is not
    kept: ``_quarantined_rows`` splits it off the few quarantined lines again (a second string
    column, even if NULL nearly everywhere, costs a noticeable share of the parse).
    """
    joined = parsed.left_join(cells, parsed.cell_id == cells.cell_id)
    reason = ibis.cases(
        (~joined.fields_ok, Reason.FIELD_COUNT.value),
        (joined.e164.isnull(), Reason.BAD_NUMBER.value),
        (
            joined.ts_utc_s.isnull() | (joined.ts_utc_s < EARLIEST_EVENT_UTC_S),
            Reason.BAD_TIME.value,
        ),
        (joined.cell_idx.isnull() & ~fmt.cell_id_ok(joined.cell_id), Reason.BAD_CELL_ID.value),
        (joined.event_type_id.isnull(), Reason.BAD_EVENT_TYPE.value),
        (joined.cell_idx.isnull(), Reason.UNKNOWN_CELL.value),
        (joined.ts_utc_s > now_utc_s + CLOCK_SKEW_TOLERANCE_S, Reason.FUTURE_TIME.value),
        else_=ibis.null(dt.string),
    )
    t = stage(joined.mutate(reason=reason))
    bad = t.reason.notnull()
    return t.select(
        "file_id",
        "reason",
        line=bad.ifelse(t.line, ibis.null(dt.string)),
        # E.164 has at most 15 digits and no leading zero: an integer is exact and cheaper to keep
        e164=t.e164.cast(dt.int64),
        ts_utc_s="ts_utc_s",
        cell_idx="cell_idx",
        event_type_id="event_type_id",
    )


def _pseudonyms(con: ibis.BaseBackend, accepted: ir.Table, key: bytes) -> tuple[ir.Table, pa.Array]:
    """(e164, subscriber_rank) of the distinct numbers, and the pseudonym of each rank.

    Hashed in Python once per number (not per row). The rank orders subscribers like their
    pseudonyms: sorting on it is cheaper than on text, and the text is only attached when written.
    """
    numbers = con.to_pyarrow(accepted.select("e164").distinct())["e164"]
    names = pa.array(pseudonymise_all(map(str, numbers.to_pylist()), key), pa.string())
    order = pc.sort_indices(names)  # pseudonyms are distinct: no ties
    ranks = pa.table(
        {
            "e164": numbers.take(order),
            "subscriber_rank": pa.array(np.arange(len(names), dtype=np.int32)),
        }
    )
    table = con.create_table(f"pseudonyms_{uuid.uuid4().hex[:8]}", ibis.memtable(ranks), temp=True)
    return table, names.take(order)


def _registry_names(
    con: ibis.BaseBackend, cells: ir.Table
) -> tuple[pa.Array, list[int], list[str]]:
    """cell_id and carrier_idx of each cell_idx, and the carrier of each carrier_idx."""
    t = con.to_pyarrow(cells.order_by("cell_idx").select("cell_id", "carrier_idx", "cell_carrier"))
    carriers = dict(zip(t["carrier_idx"].to_pylist(), t["cell_carrier"].to_pylist(), strict=True))
    return (
        t["cell_id"].combine_chunks(),
        t["carrier_idx"].to_pylist(),
        [carriers[i] for i in range(len(carriers))],
    )


def feed_files(path: Path) -> list[Path]:
    """The feed files ``path`` names: itself, or the files under a directory (a carrier's export
    of many parts), in name order, leaving out hidden and bookkeeping files ("." or "_" first:
    ``_SUCCESS``, ``.crc``) as the tools that write such directories do."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise IngestError(f"no such file: {path}")
    found = sorted(
        f
        for f in path.rglob("*")
        if f.is_file()
        and not any(part.startswith((".", "_")) for part in f.relative_to(path).parts)
    )
    if not found:
        raise IngestError(f"no feed files in directory {path}")
    return found


def ingest_files(
    data_dir: Path,
    fmt_name: str,
    paths: Sequence[Path],
    *,
    cells_path: Path | None = None,
    carrier: str | None = None,
    now_utc_s: int | None = None,
    progress: OnStep = no_step,
) -> IngestReport:
    """Ingest feed files into the events dataset (see the module doc); the run's report.

    ``progress(step, percent)`` as each step begins (``percent``: how far its query has got).
    """
    remove_abandoned(data_dir)  # a killed run's copies of feeds: they hold raw numbers
    scratch = Scratch(data_dir)  # normalised copies, if any
    try:
        return _ingest_files(
            data_dir, fmt_name, paths, cells_path, carrier, now_utc_s, progress, scratch
        )
    finally:
        scratch.close()


def _ingest_files(
    data_dir: Path,
    fmt_name: str,
    paths: Sequence[Path],
    cells_path: Path | None,
    carrier: str | None,
    now_utc_s: int | None,
    progress: OnStep,
    scratch: Scratch,
) -> IngestReport:
    started = time.perf_counter()
    if fmt_name not in FORMATS:
        raise IngestError(f"unknown format {fmt_name!r}; choose one of {', '.join(FORMATS)}")
    fmt = FORMATS[fmt_name]
    if not paths:
        raise IngestError("no event files given")
    # Per-file accounting is keyed by absolute path, however the caller spelled it.
    paths = [f.resolve() for p in paths for f in feed_files(Path(p))]
    if any(p.suffix == ".parquet" for p in paths) and fmt_name != "canonical":
        raise IngestError("Parquet input is only defined for --format canonical")
    layout = Layout(data_dir).ensure()
    registry = VersionedDataset(layout.cells)
    cells_report = None
    if cells_path is not None:
        progress("cells", lambda: None)
        cells_report = ingest_cells(cells_path, registry)
    if not registry.files():
        raise IngestError("no cell registry yet: pass --cells CELLS with the first ingest")
    now = int(time.time()) if now_utc_s is None else now_utc_s
    batch = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    tag = batch[-6:]

    con = duckdb_connection()
    percent = query_percent(con)
    # The CSV reader estimates a few dozen rows, so DuckDB would build the cell join's hash table
    # on the feed and probe it with the registry, which blocks streaming; the side we write on the
    # right (the registry, the pseudonyms, the stored rows) is the one to build.
    con.raw_sql("SET disabled_optimizers = 'build_side_probe_side'")
    registry_cells = con.read_parquet([str(f) for f in registry.files()])
    cells = con.create_table(
        f"cells_{tag}",
        registry_cells.select(
            "cell_id",
            cell_carrier="carrier",
            cell_idx=(ibis.row_number().over()).cast(dt.int32),
            carrier_idx=ibis.dense_rank().over(order_by=registry_cells.carrier).cast(dt.int32),
        ),
        temp=True,
    )

    # ---- parse and classify, one streaming pass per file into one narrow table ---------------
    progress("parse", percent)
    # Of exact duplicates in different files, the one in the first file (by path) is accepted.
    file_ids = {name: i for i, name in enumerate(sorted({str(p) for p in paths}))}
    classified_name = f"classified_{tag}"
    text_files: dict[int, _TextFile] = {}
    for n, p in enumerate(paths):
        file_id = file_ids[str(p)]
        # A file DuckDB cannot read strictly (not UTF-8, mixed line ends) is read again from its
        # normalised copy; a failed statement stores nothing, so the retry starts clean.
        read_path = p
        for normalised in (False, True):
            try:
                if p.suffix == ".parquet":
                    file_fmt = FORMATS["canonical"]
                    parsed = file_fmt.parse(_read_parquet_lines(con, p, file_id))
                else:
                    text_files[file_id] = _text_file(con, fmt, read_path)
                    file_fmt = text_files[file_id].fmt
                    parsed = file_fmt.parse(_read_lines(con, file_id, text_files[file_id]))
                rows = _classify(file_fmt, parsed, cells, now)
                if n == 0:
                    classified = con.create_table(classified_name, rows, temp=True)
                else:
                    con.insert(classified_name, rows)
                break
            except (duckdb.InvalidInputException, duckdb.IOException) as e:
                if normalised or p.suffix == ".parquet":
                    reason = str(e).splitlines()[0]
                    raise IngestError(f"{p.name}: cannot be read: {reason}") from None
                read_path = _normalised_copy(p, scratch.path() / f"{file_id}.txt")

    reports: dict[str, FileReport] = {str(p): FileReport(str(p)) for p in paths}
    by_id = {i: reports[name] for name, i in file_ids.items()}
    # One pass counts rows per file and reason, and the accepted ones per local day and cell (to
    # plan the sorts below).
    counts = classified.group_by(
        ["file_id", "reason", local_day(classified.ts_utc_s).name("local_day"), "cell_idx"]
    ).aggregate(n=ibis._.count())
    valid_rows = Counter[int]()
    valid_per_day_cell = Counter[tuple[int, int]]()
    for row in con.to_pyarrow(counts).to_pylist():
        report = by_id[row["file_id"]]
        report.rows_read += row["n"]
        if row["reason"] is None:
            valid_rows[row["file_id"]] += row["n"]
            valid_per_day_cell[row["local_day"], row["cell_idx"]] += row["n"]
        else:
            report.quarantined[row["reason"]] = report.quarantined.get(row["reason"], 0) + row["n"]

    n_quarantined = sum(r.quarantined_total for r in reports.values())
    parts: list[pa.Table] = []
    if n_quarantined:
        # Numbered before anything is written: a miss aborts the run.
        progress("quarantine", percent)
        times_given = Counter(str(p) for p in paths)
        for name, file_id in file_ids.items():
            n_bad = reports[name].quarantined_total // times_given[name]
            if not n_bad:
                continue
            path = Path(name)
            if path.suffix == ".parquet":
                numbered = _numbered_parquet_lines(con, path)
            else:
                numbered = _numbered_lines(con, text_files[file_id])
            file_fmt = (
                FORMATS["canonical"] if path.suffix == ".parquet" else text_files[file_id].fmt
            )
            rows = _quarantined_rows(con, file_fmt, classified, numbered, file_id, n_bad)
            parts += [
                rows.append_column("file_id", pa.array([file_id] * rows.num_rows, pa.int32()))
            ]
            parts += parts[-1:] * (times_given[name] - 1)  # a file given twice is read twice

    # ---- deduplicate and write: a few local days per sort -------------------------------------
    progress("deduplicate", percent)
    valid = classified.filter(classified.reason.isnull())
    pseudonyms, subscribers = _pseudonyms(con, valid, load_key(data_dir))
    carrier_code = carrier or fmt.carrier
    cell_ids, carrier_of_cell, carriers = _registry_names(con, cells)
    if carrier_code:  # one carrier for the whole feed, whatever the registry says
        carrier_of_cell, carriers = [0] * len(carrier_of_cell), [carrier_code]
    keyed = valid.join(pseudonyms, "e164").join(cells, "cell_idx")
    keyed = keyed.select(
        local_day=local_day(keyed.ts_utc_s),
        carrier_idx=ibis.literal(0, dt.int32) if carrier_code else keyed.carrier_idx,
        subscriber_rank=keyed.subscriber_rank,
        ts_utc_s=keyed.ts_utc_s,
        cell_idx=keyed.cell_idx,
        event_type_id=keyed.event_type_id,
        file_id=keyed.file_id,
    )
    rows_per_key = Counter[PartitionKey]()
    for (day, cell_idx), n in valid_per_day_cell.items():
        rows_per_key[PartitionKey(day, carriers[carrier_of_cell[cell_idx]])] += n
    keys = sorted(rows_per_key)
    rows_per_day = Counter[int]()
    for key, n in rows_per_key.items():
        rows_per_day[key.day] += n
    names = Names(subscribers, cell_ids, carriers, np.array(carrier_of_cell, np.int32))
    events = VersionedDataset(layout.events)
    stored = {k: events.files_of([k.partition]) for k in keys}
    stored_of_day: dict[int, list[Path]] = {}
    for k in keys:
        stored_of_day.setdefault(k.day, []).extend(stored[k])

    def read_stored(files: Sequence[Path]) -> ir.Table:
        return con.read_parquet([str(f) for f in files]).select(*EVENT_COLUMNS)

    progress("write", percent)
    accepted = Counter[int]()
    with events.change() as staging:
        for part in sorted_partitions(con, keyed, names, rows_per_day):
            accepted += write_partition(
                con,
                part,
                staging.partition_dir(part.key.partition),
                read_stored,
                stored_of_day[part.key.day],
                stored[part.key],
            )
    for file_id, n in valid_rows.items():
        by_id[file_id].accepted = accepted[file_id]
        by_id[file_id].duplicates = n - accepted[file_id]

    if n_quarantined:
        # A DuckDB table rather than the Arrow one: its statistics tell the Parquet writer that
        # line_no and reason have no NULLs, which the stored schema records.
        quarantined = con.create_table(
            f"quarantined_{tag}", ibis.memtable(pa.concat_tables(parts)), temp=True
        )
        names = ibis.memtable(
            pa.table(
                {
                    "file_id": pa.array(list(file_ids.values()), pa.int32()),
                    "file": list(file_ids),
                }
            )
        )
        quarantined = quarantined.join(names, "file_id").order_by(["file_id", "line_no"])
        masked = quarantined.select(
            "file",
            "line_no",
            "reason",
            line=_mask_stray_numbers(
                quarantined.line.replace(
                    quarantined.field.fill_null("\x00"),
                    _mask_field(quarantined.field.fill_null("")),
                )
            ),
            batch=ibis.literal(batch),
        )
        quarantine = VersionedDataset(layout.quarantine)
        with quarantine.change() as staging:
            out = staging.partition_dir((("batch", batch),)) / "rows.parquet"
            con.to_parquet(masked, out)

    report = IngestReport(
        batch=batch,
        format=fmt_name,
        files=list(reports.values()),
        cells=cells_report,
        partitions_written=len(keys),
        seconds=round(time.perf_counter() - started, 3),
    )
    with layout.ingest_log.open("a", encoding="utf-8") as log:
        log.write(report.to_json() + "\n")
    return report
