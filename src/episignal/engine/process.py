"""Daily processing: each local day's stays and spans, computed incrementally.

The output for day D is a pure function of the events of D and of ``lookback_hours`` before it,
the cell registry and the parameters, so processing a new day reads only what its window needs and
rewrites only that day's partition, and a full backfill gives exactly what day-by-day runs give.
A day is recomputed when the fingerprint of those inputs changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import ibis

from episignal.atomic_file import replacing
from episignal.engine.backend import EngineConfig, OnStep, connect, no_step, query_percent
from episignal.engine.boundaries import SID_SPAN, group_points, mark_boundaries, time_bits
from episignal.engine.io import (
    kept_tables,
    partition_rows,
    rank_names,
    read_parquet,
    write_parquet_by,
)
from episignal.engine.params import CleanParams, StayParams
from episignal.engine.records import (
    CellKeys,
    county_codes,
    keyed_cells,
    place_codes,
    record_keys,
    subscriber_keys,
    with_places,
)
from episignal.engine.spans import SECONDS_PER_DAY, day_spans, local_midnight_utc_s
from episignal.engine.stays import stays
from episignal.ingest.events import LOCAL_UTC_OFFSET_S
from episignal.lake import Partition, VersionedDataset
from episignal.layout import Layout

ENGINE_VERSION = "10"  # bump when a change to the algorithm must recompute stored days
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class ProcessParams:
    clean: CleanParams = field(default_factory=CleanParams)
    stay: StayParams = field(default_factory=StayParams)
    # Events sorted in one query: as many days as fit go in one (each query has a fixed cost and
    # reads the lookback before its first day again); this bounds its memory (about 70 bytes an
    # event on DuckDB). Results do not depend on it.
    events_per_query: int = 60_000_000


class NoEventsError(LookupError):
    """Nothing has been ingested yet."""


def epoch_day(day: dt.date) -> int:
    return (day - EPOCH).days


def _state_path(layout: Layout) -> Path:
    return layout.root / "processing-state.json"


def _context_dates(day: dt.date, params: ProcessParams) -> set[str]:
    """The local dates whose events day ``day``'s output is computed from."""
    context_days = math.ceil(params.stay.lookback_hours / 24)
    return {(day - dt.timedelta(days=i)).isoformat() for i in range(context_days + 1)}


def _fingerprint(
    day: dt.date, inputs: list[str], cell_ids: list[str], params: ProcessParams
) -> str:
    payload = json.dumps(
        [
            ENGINE_VERSION,
            day.isoformat(),
            sorted(inputs),
            cell_ids,
            asdict(params.clean),
            asdict(params.stay),
        ],
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def event_days(data_dir: Path) -> list[dt.date]:
    events = VersionedDataset(Layout(data_dir).events)
    return sorted({dt.date.fromisoformat(dict(p)["local_date"]) for p in events.partitions()})


def process_days(
    data_dir: Path,
    days: Iterable[dt.date],
    *,
    params: ProcessParams | None = None,
    engine: EngineConfig | None = None,
    force: bool = False,
    on_day: Callable[[dt.date, bool], None] = lambda _d, _computed: None,
    on_step: OnStep = no_step,
    con: ibis.BaseBackend | None = None,
) -> list[dt.date]:
    """Bring the given days' outputs up to date; returns the days that were (re)computed.

    ``on_day(day, computed)`` as each day is up to date; ``on_step(name, percent)`` as each step
    of a batch of days begins. ``con``: a connection to use (of ``engine``) rather than one of
    its own.
    """
    params = params or ProcessParams()
    layout = Layout(data_dir)
    events, cells = VersionedDataset(layout.events), VersionedDataset(layout.cells)
    if not events.partitions():
        raise NoEventsError("no events ingested yet: run `episignal ingest` first")
    state_file = _state_path(layout)
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    manifest = events.manifest()  # partition → id of the write that made it
    cell_ids = sorted(cells.manifest().values())
    todo: list[tuple[dt.date, str, list]] = []
    for day in sorted(set(days)):
        context = _context_dates(day, params)
        needed = [p for p in manifest if dict(p)["local_date"] in context]
        fp = _fingerprint(day, [manifest[p] for p in needed], cell_ids, params)
        if force or state.get(day.isoformat()) != fp:
            todo.append((day, fp, needed))
        else:
            on_day(day, False)
    if not todo:
        return []
    # A day without events of its own gets no output (not an empty one), even with lookback.
    empty = [d for d, _fp, needed in todo if d.isoformat() not in _dates(needed)]
    with_events = [(d, needed) for d, _fp, needed in todo if d not in empty]
    con = con or connect(engine or EngineConfig())
    percent = query_percent(con)

    def step(name: str) -> None:
        on_step(name, percent)

    stays_ds, spans_ds = VersionedDataset(layout.stays), VersionedDataset(layout.spans)
    with (
        stays_ds.change() as stays_stage,
        spans_ds.change() as spans_stage,
        kept_tables(con) as keep_call,
    ):
        keyed = keep_call(keyed_cells(read_parquet(con, cells.files())))
        keys = CellKeys.of(con, keyed)
        cell_table = keep_call(keys.with_cid(keyed))
        for day in empty:
            part = (("local_date", day.isoformat()),)
            stays_stage.drop(part)
            spans_stage.drop(part)
            on_day(day, True)
        rows = partition_rows(events, {p for _, needed in with_events for p in needed})
        max_days = _max_days(keys, params)
        for batch in _batches(with_events, rows, params.events_per_query, max_days):
            files = events.files_of({p for _, needed in batch for p in needed})
            # A batch's tables are dropped once its days are written.
            with kept_tables(con) as keep:
                outputs = days_outputs(
                    con,
                    read_parquet(con, files),
                    cell_table,
                    keys,
                    [d for d, _ in batch],
                    params,
                    keep,
                    step,
                )
                step("stays and spans")
                names = rank_names(con, outputs.names)  # once for both outputs
                for table, stage in ((outputs.stays, stays_stage), (outputs.spans, spans_stage)):
                    dirs = {
                        epoch_day(d): stage.partition_dir((("local_date", d.isoformat()),))
                        for d, _ in batch
                    }
                    write_parquet_by(con, table, "day", dirs, names)
            for day, _ in batch:
                on_day(day, True)
    state.update({d.isoformat(): fp for d, fp, _ in todo})
    with replacing(state_file) as tmp:
        tmp.write_text(json.dumps(state, indent=0, sort_keys=True))
    return [d for d, _, _ in todo]


def _dates(partitions: Iterable[Partition]) -> set[str]:
    return {dict(p)["local_date"] for p in partitions}


def _max_days(keys: CellKeys, params: ProcessParams) -> int:
    """The most days one query can span: its records' times since its origin (the first day's
    lookback) must fit the order key's time bits (``boundaries.time_bits``)."""
    lookback = math.ceil(params.stay.lookback_hours * 3600)
    fit = ((1 << max(time_bits(keys), 0)) - lookback) // SECONDS_PER_DAY
    if fit < 1:
        raise ValueError(
            f"the cell registry needs {keys.bits}-bit cell keys: too many to order a day's"
            " records by time and cell in 63 bits"
        )
    return fit


def _batches(
    days: list[tuple[dt.date, list[Partition]]],
    rows: dict[Partition, int],
    max_rows: int,
    max_days: int,
) -> Iterator[list[tuple[dt.date, list[Partition]]]]:
    """Consecutive runs of ``days`` whose partitions hold at most ``max_rows`` events together,
    from first day to last at most ``max_days`` days.

    A day is never split: one larger than ``max_rows`` is a batch of its own.
    """
    batch: list[tuple[dt.date, list[Partition]]] = []
    parts: set[Partition] = set()
    for day, needed in days:
        more = parts | set(needed)
        too_long = batch and (day - batch[0][0]).days >= max_days
        if too_long or (batch and sum(rows[p] for p in more) > max_rows):
            yield batch
            batch, more = [], set(needed)
        batch.append((day, needed))
        parts = more
    if batch:
        yield batch


class DayOutputs(NamedTuple):
    """A batch's outputs, their subscribers as ranks (``rank``): the text of each is joined on
    when written (``names``, through ``io.write_parquet_by``)."""

    stays: ibis.Table  # day, rank, place, arrival_utc_s, departure_utc_s, n_records, level
    spans: ibis.Table  # day, rank, place, first_utc_s, last_utc_s, n_records
    names: ibis.Table  # rank, subscriber


def days_outputs(
    con: ibis.BaseBackend,
    events: ibis.Table,
    cells: ibis.Table,
    keys: CellKeys,
    days: list[dt.date],
    params: ProcessParams,
    keep: Callable[[ibis.Table], ibis.Table],
    step: Callable[[str], None] = lambda _name: None,
) -> DayOutputs:
    """The stays and spans of several local days, each with a ``day`` column (epoch day number).

    Each day is computed as its own group — the day's events plus the ``lookback_hours`` before
    it — so the result is exactly what one query per day would give; but the records are sorted
    once, each record once, and the fixed cost of a query is paid once (``boundaries``). The sort
    moves integer keys; after it, everything works on the few records where runs, days and groups
    start or end. Group and subscriber share one integer key (``sid = day · SID_SPAN + subscriber
    rank``). ``cells`` is the keyed registry (``records.keyed_cells``) with its cell keys
    (``keys.with_cid``); the days span at most ``_max_days``. ``step(name)`` is called
    as each stage that runs a query begins.
    """
    lookback = int(params.stay.lookback_hours * 3600)
    bridge_s = int(params.stay.bridge_hours * 3600)
    numbers = sorted(epoch_day(d) for d in days)
    lo = local_midnight_utc_s(numbers[0]) - lookback
    hi = local_midnight_utc_s(numbers[-1]) + SECONDS_PER_DAY
    if hi - lo > 1 << time_bits(keys):
        raise ValueError(f"{len(numbers)} days span more than one query can order (_max_days)")
    events = events.filter((events.ts_utc_s >= lo) & (events.ts_utc_s < hi))
    step("numbering subscribers")
    subscribers = subscriber_keys(con, events, keep)
    step("sorting records")
    marked = mark_boundaries(record_keys(events, cells, subscribers), keys, lookback, bridge_s, lo)
    marked = keep(with_places(marked, cells))
    step("change points")
    points = keep(group_points(marked, numbers, lookback))
    codes = {"place": place_codes(cells), "county": county_codes(cells)}
    step("runs")
    out = ibis.union(
        *[
            _named_places(
                stays(points, cells, level, params.clean, params.stay, keep), codes[level]
            ).mutate(level=ibis.literal(level))
            for level in ("place", "county")
        ]
    )
    out = out.mutate(day=out.sid // SID_SPAN, rank=out.sid % SID_SPAN)
    # A day holds the stays that reach into it, and the last stay before its midnight when the
    # record that ends its silence is in the day: only this day's group sees that record, so
    # only here does that stay get its departure credit (docs/stay-rules.md §3).
    midnight = out.day * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S
    out = out.filter((out.departure_utc_s >= midnight) | (out.silence_end_utc_s >= midnight))
    own = marked.filter(marked.day.isin(numbers))
    spans = day_spans(own.mutate(sid=own.day * SID_SPAN + own.sid)).rename(place="pid")
    spans = _named_places(spans, codes["place"])
    spans = spans.mutate(day=spans.sid // SID_SPAN, rank=spans.sid % SID_SPAN)
    return DayOutputs(
        out.select(
            "day", "rank", "place", "arrival_utc_s", "departure_utc_s", "n_records", "level"
        ),
        spans.select("day", "rank", "place", "first_utc_s", "last_utc_s", "n_records"),
        subscribers.select(rank="sid", subscriber="subscriber"),
    )


def _named_places(t: ibis.Table, codes: ibis.Table) -> ibis.Table:
    """``t`` with its place key ``place`` replaced by the code (``codes``: key, code)."""
    key = codes.columns[0]
    named = t.join(codes, t.place == codes[key]).drop("place", key)
    return named.rename(place="code").select(t.columns)
