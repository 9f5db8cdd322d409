"""Home location: the county where a subscriber's phone is most often seen at night.

Over a baseline period, each night (local 22:00–06:00, counted on the evening's date) votes for
every county the subscriber's records fall in; the home is the county with the most nights
(ties: the smaller code). Flow analysis uses it to tell residents from visitors.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from episignal.engine.backend import EngineConfig, OnStep, connect, no_step, query_percent
from episignal.engine.io import kept_tables, read_parquet
from episignal.engine.records import keyed_cells, records, subscriber_keys
from episignal.engine.spans import SECONDS_PER_DAY
from episignal.ingest.events import LOCAL_UTC_OFFSET_S
from episignal.lake import VersionedDataset
from episignal.layout import Layout

NIGHT_START_HOUR = 22
NIGHT_END_HOUR = 6


def homes(recs: ir.Table, min_nights: int = 1) -> ir.Table:
    """records → (sid, home_county, home_place, nights)."""
    local = recs.ts_utc_s + LOCAL_UTC_OFFSET_S
    hour = (local % SECONDS_PER_DAY) // 3600
    at_night = (hour >= NIGHT_START_HOUR) | (hour < NIGHT_END_HOUR)
    # A night belongs to the evening's date: shift the early-morning hours back by a day.
    night = (local - NIGHT_END_HOUR * 3600) // SECONDS_PER_DAY
    t = recs.filter(at_night).mutate(night=night)
    votes = t.select("sid", "county", "place", "night").distinct()
    counts = votes.group_by(["sid", "county", "place"]).aggregate(nights=votes.count())
    w = ibis.window(group_by=counts.sid, order_by=[ibis.desc(counts.nights), counts.county])
    ranked = counts.mutate(rank=ibis.row_number().over(w))
    best = ranked.filter((ranked.rank == 0) & (ranked.nights >= min_nights))
    return best.select("sid", home_county="county", home_place="place", nights="nights")


def homes_for_period(
    data_dir: Path,
    start: dt.date,
    end: dt.date,
    engine: EngineConfig | None = None,
    on_step: OnStep = no_step,
) -> pa.Table:
    """Home of every subscriber seen at night in the local days start..end (inclusive);
    ``on_step(name, percent)`` as each step begins."""
    layout = Layout(data_dir)
    days = [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    files = VersionedDataset(layout.events).files({"local_date": days})
    if not files:
        return pa.table({"subscriber": [], "home_county": [], "home_place": [], "nights": []})
    con = connect(engine or EngineConfig())
    cells = keyed_cells(read_parquet(con, VersionedDataset(layout.cells).files()))
    events = read_parquet(con, files)
    percent = query_percent(con)
    with kept_tables(con) as keep:
        on_step("numbering subscribers", percent)
        subscribers = subscriber_keys(con, events, keep)
        on_step("nights", percent)
        best = homes(records(events, cells, subscribers))
        expr = best.join(subscribers, "sid").drop("sid").order_by("subscriber")
        expr = expr.select("subscriber", "home_county", "home_place", "nights")
        return con.to_pyarrow(expr)
