"""Itineraries: the places a subscriber stayed in during the N local days ending with a date.

A city (prefecture-level place) is listed when, under the selected rule, a stay reaches the hours
threshold inside the window: ``dwell`` — one continuous stay overlaps the window by ≥ hours;
``span`` (the official rule) — on one local day in the window, the earliest and the latest record
in the city are ≥ hours apart. A country abroad is listed on any presence in the window.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from episignal.engine.backend import EngineConfig, OnStep, connect, no_step, query_percent
from episignal.engine.io import read_parquet, to_arrow
from episignal.engine.params import ItineraryParams, Rule, StayParams
from episignal.engine.process import epoch_day, event_days, process_days
from episignal.engine.spans import SECONDS_PER_DAY, local_midnight_utc_s
from episignal.geo.places import place_for_code
from episignal.lake import VersionedDataset
from episignal.layout import Layout

SUPPORTED_WINDOW_DAYS = range(1, 31 + 1)
COUNTRY_CODE_LENGTH = 2
ITINERARY_SCHEMA = pa.schema(
    [
        ("subscriber", pa.string()),
        ("place_code", pa.string()),
        ("place_name", pa.string()),
        ("place_kind", pa.string()),
        ("first_arrival", pa.timestamp("s", tz="UTC")),
        ("last_departure", pa.timestamp("s", tz="UTC")),
    ]
)


class ItineraryError(ValueError):
    """A request the itinerary cannot answer (bad window, no data for the date)."""


def window_days(date: dt.date, days: int) -> list[dt.date]:
    return [date - dt.timedelta(days=i) for i in range(days - 1, -1, -1)]


def window_bounds_utc_s(date: dt.date, days: int) -> tuple[int, int]:
    end = local_midnight_utc_s(epoch_day(date)) + SECONDS_PER_DAY
    return end - days * SECONDS_PER_DAY, end


def itinerary_places(
    stays: ir.Table | None, spans: ir.Table | None, date: dt.date, params: ItineraryParams
) -> ir.Table:
    """(subscriber, place, first_arrival_utc_s, last_departure_utc_s) for the window."""
    w_start, w_end = window_bounds_utc_s(date, params.days)
    threshold = int(params.hours * 3600)
    if params.rule is Rule.DWELL:
        s = stays.filter(stays.level == "place")
        s = s.filter((s.arrival_utc_s < w_end) & (s.departure_utc_s >= w_start))
        inside = ibis.least(s.departure_utc_s, w_end) - ibis.greatest(s.arrival_utc_s, w_start)
        abroad = s.place.length() == COUNTRY_CODE_LENGTH
        q = s.filter(abroad | (inside >= threshold))
        first, last = q.arrival_utc_s, q.departure_utc_s
    else:
        q = spans
        abroad = q.place.length() == COUNTRY_CODE_LENGTH
        q = q.filter(abroad | ((q.last_utc_s - q.first_utc_s) >= threshold))
        first, last = q.first_utc_s, q.last_utc_s
    return q.group_by(["subscriber", "place"]).aggregate(
        first_arrival_utc_s=first.min(), last_departure_utc_s=last.max()
    )


def _named(raw: pa.Table) -> pa.Table:
    # Names are looked up once per distinct code, then taken per row, all in Arrow: building
    # columns from Python lists (or scalars) makes pyarrow import pandas, ~0.4 s of every call.
    codes = pc.unique(raw["place"])
    places = [place_for_code(c.as_py()) for c in codes]
    at = pc.index_in(raw["place"], value_set=codes)
    return pa.table(
        {
            "subscriber": raw["subscriber"],
            "place_code": raw["place"],
            "place_name": _strings([p.name_zh for p in places]).take(at),
            "place_kind": _strings([p.kind.value for p in places]).take(at),
            "first_arrival": pc.cast(raw["first_arrival_utc_s"], pa.timestamp("s", tz="UTC")),
            "last_departure": pc.cast(raw["last_departure_utc_s"], pa.timestamp("s", tz="UTC")),
        },
        schema=ITINERARY_SCHEMA,
    )


def _strings(values: list[str]) -> pa.Array:
    """An Arrow string array built from the strings' bytes (see ``_named``: not ``pa.array``)."""
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(pa.string(), len(encoded), buffers)


def itinerary_params(days: int, hours: float, rule: str) -> ItineraryParams:
    """The itinerary's parameters, checked: an ``ItineraryError`` names the one that is wrong."""
    if days not in SUPPORTED_WINDOW_DAYS:
        raise ItineraryError(f"window of {days} days not supported (1 to 31)")
    max_hours = StayParams().lookback_hours
    if not 0 < hours <= max_hours:
        raise ItineraryError(f"hours must be more than 0 and at most {max_hours:g}")
    try:
        return ItineraryParams(days=days, hours=hours, rule=Rule(rule))
    except ValueError:
        raise ItineraryError(f"unknown rule {rule!r}; choose dwell or span") from None


def itineraries_for_date(
    data_dir: Path,
    date: dt.date,
    *,
    days: int = 14,
    hours: float = 4.0,
    rule: str = "dwell",
    engine: EngineConfig | None = None,
    on_day: Callable[[dt.date, bool], None] = lambda _d, _computed: None,
    on_step: OnStep = no_step,
) -> pa.Table:
    """Every subscriber's itinerary for the window ending with ``date``, processing what it needs.

    Columns: subscriber, place_code, place_name, place_kind ("city" | "country"), first_arrival,
    last_departure (UTC). Rows are sorted by subscriber and place_code; the schema metadata holds
    ``computed_at`` (UTC) and the rule. ``on_day(day, computed)`` is called as each day of the
    window with events is brought up to date, and ``on_step(name, percent)`` as each step of the
    work begins (see ``process_days``).
    """
    params = itinerary_params(days, hours, rule)
    wanted = window_days(date, days)
    available = set(event_days(data_dir))
    in_window = [d for d in wanted if d in available]
    if not in_window:
        raise ItineraryError(f"no events ingested for the {days} days ending {date.isoformat()}")
    con = connect(engine or EngineConfig())
    process_days(data_dir, in_window, engine=engine, con=con, on_day=on_day, on_step=on_step)
    on_step("itineraries", query_percent(con))
    layout = Layout(data_dir)
    where = {"local_date": [d.isoformat() for d in in_window]}
    if params.rule is Rule.DWELL:
        files = VersionedDataset(layout.stays).files(where)
        stays, spans = (read_parquet(con, files) if files else None), None
    else:
        files = VersionedDataset(layout.spans).files(where)
        stays, spans = None, (read_parquet(con, files) if files else None)
    if not files:
        return ITINERARY_SCHEMA.empty_table()
    expr = itinerary_places(stays, spans, date, params).order_by(["subscriber", "place"])
    table = _named(to_arrow(con, expr))
    # When the result was computed travels with it (kept in Parquet exports' metadata).
    computed = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return table.replace_schema_metadata({"computed_at": computed, "rule": params.rule.value})
