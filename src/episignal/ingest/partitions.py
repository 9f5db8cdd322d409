"""Accepted rows → events partitions: de-duplicated and sorted a few local days at a time.

The rows of a group of local days are sorted once on integer keys (local day, carrier, subscriber
rank, time, cell, event type, file). Exact duplicates then sit next to each other, so keeping the
first row of each run de-duplicates them (crediting the earliest file) without a hash table over
the batch, and the same order is the partitions' stored order (subscriber, then time). The text
columns are attached only when a partition is written, as dictionary arrays over the pseudonyms,
the cell ids and the event types.
"""

from __future__ import annotations

import datetime
import itertools
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa

from episignal.ingest.events import EVENT_TYPES, LOCAL_UTC_OFFSET_S
from episignal.lake import Partition

EVENT_COLUMNS = ("subscriber", "ts_utc_s", "cell_id", "event_type")
# Rows sorted in one query: several local days share a scan of the batch, and the sort and its
# result (about 30 bytes a row) stay bounded however large the batch is.
ROWS_PER_SORT = 16_000_000
SECONDS_PER_DAY = 86_400
_BATCH_ROWS = 122_880  # DuckDB's Parquet row group
_EPOCH_DATE = datetime.date(1970, 1, 1)
# The event: rows equal on these are exact duplicates (the local day and the carrier, which come
# first in the sort, are functions of the time and the cell).
_EVENT_KEYS = ("subscriber_rank", "ts_utc_s", "cell_idx", "event_type_id")
# Partitions, stored order within one, duplicates next to each other, the earliest file first.
_SORT_KEYS = ("local_day", "carrier_idx", *_EVENT_KEYS, "file_id")


def local_date(day: int) -> str:
    """Partition name of a local day number (days since 1970-01-01), e.g. "2020-01-23"."""
    return (_EPOCH_DATE + datetime.timedelta(days=day)).isoformat()


def local_day(ts_utc_s: ir.IntegerValue) -> ir.IntegerValue:
    """Local (Asia/Shanghai) day number of a UTC time: an integer, cheap to sort and compare."""
    return ((ts_utc_s + LOCAL_UTC_OFFSET_S) // SECONDS_PER_DAY).cast(dt.int32)


@dataclass(frozen=True)
class Names:
    """The text of the integer codes the sort works on, each indexed by its code."""

    subscribers: pa.Array  # pseudonym by subscriber_rank
    cell_ids: pa.Array  # cell_id by cell_idx
    carriers: Sequence[str]  # carrier (partition value) by carrier_idx
    carrier_of_cell: np.ndarray  # carrier_idx by cell_idx


@dataclass(frozen=True, order=True)
class PartitionKey:
    day: int
    carrier: str

    @property
    def partition(self) -> Partition:
        return (("local_date", local_date(self.day)), ("carrier", self.carrier))


def day_groups(rows_per_day: dict[int, int], max_rows: int) -> list[list[int]]:
    """Consecutive local days, grouped so that a group holds at most ``max_rows`` (or one day)."""
    groups: list[list[int]] = []
    total = 0
    for day in sorted(rows_per_day):
        if groups and total + rows_per_day[day] <= max_rows:
            groups[-1].append(day)
            total += rows_per_day[day]
        else:
            groups.append([day])
            total = rows_per_day[day]
    return groups


def _sorted_rows(con: ibis.BaseBackend, keyed: ir.Table, days: list[int]) -> pa.Table:
    """The keyed rows of the given (consecutive) local days in sort-key order: the event's keys
    and the file, not the day and carrier the order starts with (functions of the time and the
    cell, cheaper to compute again than to carry through the result)."""
    start_s = days[0] * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S
    end_s = (days[-1] + 1) * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S
    # A time range rather than the day column: DuckDB filters the scan before computing anything.
    rows = keyed.filter((keyed.ts_utc_s >= start_s) & (keyed.ts_utc_s < end_s))
    ordered = rows.order_by(list(_SORT_KEYS)).select(*_EVENT_KEYS, "file_id")
    # Row-group-sized batches: DuckDB writes a partition's batches to Parquet in parallel.
    table = con.to_pyarrow(ordered)
    return pa.Table.from_batches(table.to_batches(max_chunksize=_BATCH_ROWS), table.schema)


def _column(rows: pa.Table, name: str) -> np.ndarray:
    return rows[name].to_numpy()


def _first_of_runs(rows: pa.Table) -> np.ndarray:
    """Mask of the rows that differ from the row before on the event: one row per event."""
    n = rows.num_rows
    changed = np.zeros(max(n - 1, 0), dtype=bool)
    for key in _EVENT_KEYS:
        values = _column(rows, key)
        changed |= values[1:] != values[:-1]
    return np.concatenate([np.ones(min(n, 1), dtype=bool), changed])


def _named(rows: pa.Table, names: Names) -> pa.Table:
    """Sorted integer rows → the stored columns, the text as dictionary arrays (no copies)."""
    event_types = pa.array(EVENT_TYPES)

    def text(name: str, dictionary: pa.Array) -> pa.ChunkedArray:
        return pa.chunked_array(
            [pa.DictionaryArray.from_arrays(c, dictionary) for c in rows[name].chunks],
            type=pa.dictionary(rows[name].type, pa.string()),
        )

    return pa.table(
        {
            "subscriber": text("subscriber_rank", names.subscribers),
            "ts_utc_s": rows["ts_utc_s"],
            "cell_id": text("cell_idx", names.cell_ids),
            "event_type": text("event_type_id", event_types),
            "file_id": rows["file_id"],
            "keep": rows["keep"],
        }
    )


@dataclass(frozen=True)
class SortedPartition:
    key: PartitionKey
    rows: pa.Table  # EVENT_COLUMNS + file_id + keep (False: a duplicate within the batch)


def sorted_partitions(
    con: ibis.BaseBackend, keyed: ir.Table, names: Names, rows_per_day: dict[int, int]
) -> Iterator[SortedPartition]:
    """Each partition's rows in stored order, a group of local days per sort.

    ``keyed`` has one row per accepted input row: local_day, carrier_idx, subscriber_rank,
    ts_utc_s, cell_idx, event_type_id, file_id.
    """
    for days in day_groups(rows_per_day, ROWS_PER_SORT):
        rows = _sorted_rows(con, keyed, days)
        rows = rows.append_column("keep", pa.array(_first_of_runs(rows)))
        day = (_column(rows, "ts_utc_s") + LOCAL_UTC_OFFSET_S) // SECONDS_PER_DAY
        carrier = names.carrier_of_cell[_column(rows, "cell_idx")]
        starts = np.flatnonzero((day[1:] != day[:-1]) | (carrier[1:] != carrier[:-1])) + 1
        bounds = [0, *starts.tolist(), rows.num_rows]
        for start, end in itertools.pairwise(bounds):
            if start == end:
                continue
            key = PartitionKey(int(day[start]), names.carriers[int(carrier[start])])
            yield SortedPartition(key, _named(rows.slice(start, end - start), names))


def write_partition(
    con: ibis.BaseBackend,
    part: SortedPartition,
    directory: Path,
    read_old: Callable[[Sequence[Path]], ir.Table],
    old_of_day: Sequence[Path],
    old_of_partition: Sequence[Path],
) -> Counter[int]:
    """Write one partition's new rows (with its stored ones); accepted rows per file id.

    ``old_of_day``: stored files of every partition of the batch on this local day, where an
    event already stored makes a new row a duplicate; ``old_of_partition``: the ones that this
    partition's previous content is read from.
    """
    new = ibis.memtable(part.rows)
    new = new.filter(new.keep)
    out = directory / "part-0000.parquet"
    if not old_of_day:
        # The usual case: nothing stored for the day, the rows are in order already.
        con.to_parquet(new.select(*EVENT_COLUMNS), out)
        kept_files = _column(part.rows, "file_id")[_column(part.rows, "keep")]
        return Counter({i: int(n) for i, n in enumerate(np.bincount(kept_files)) if n})
    fresh = new.anti_join(read_old(old_of_day), list(EVENT_COLUMNS))
    fresh_name = f"fresh_{uuid.uuid4().hex[:8]}"
    fresh = con.create_table(fresh_name, fresh, temp=True)
    counts = con.to_pyarrow(fresh.group_by("file_id").aggregate(n=ibis._.count()))
    rows = fresh.select(*EVENT_COLUMNS)
    if old_of_partition:
        rows = ibis.union(read_old(old_of_partition), rows)
    con.to_parquet(rows.order_by(["subscriber", "ts_utc_s"]), out)
    con.raw_sql(f"DROP TABLE {fresh_name}")  # ibis 12's drop_table fails on temp tables
    return Counter(dict(zip(counts["file_id"].to_pylist(), counts["n"].to_pylist(), strict=True)))
