"""Stays: maximal runs of records at one place, with arrival and departure.

A new run starts when the place (or the border status of the cell) changes, or when the phone was
silent longer than ``bridge_hours`` (a night with the phone off at one place is presence there;
two days of silence is not). Runs are found in ONE sort of the records (``boundaries.py``);
cleaning (``clean.py``) and everything after work on runs. A run shorter than
``pingpong_max_minutes`` between two runs at the same other place is ping-pong and joins them.
The silence between the last record of one stay and the first of the next is attributed per
``StayParams.attribution``, at most ``max_credit_minutes`` per side.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from episignal.engine.clean import RUN_ORDER, drop_glitches, resolve_border
from episignal.engine.params import Attribution, CleanParams, StayParams

# What makes two consecutive records part of one run, per level.
LEVEL_KEYS = {"place": ("pid", "alt_pid"), "county": ("county",)}
# What a run carries from its first record, per level.
LEVEL_COLUMNS = {"place": ("place", "pid", "alt", "alt_pid"), "county": ("county",)}


def _runs(points: ir.Table, level: str) -> ir.Table:
    start, end = points[f"start_{level}"], points[f"end_{level}"]
    t = points.filter(start | end)
    # Starts and ends alternate in record order; a one-record run is both on the same row.
    w = ibis.window(group_by=t.sid, order_by=t.pos)
    is_end = t[f"end_{level}"]
    t = t.mutate(
        end_pos=is_end.ifelse(t.pos, t.pos.lead().over(w)),
        end_ts=is_end.ifelse(t.ts_utc_s, t.ts_utc_s.lead().over(w)),
        end_cid=is_end.ifelse(t.cid, t.cid.lead().over(w)),
    )
    t = t.filter(t[f"start_{level}"])
    return t.select(
        "sid",
        *LEVEL_COLUMNS[level],
        run="pos",
        first_ts="ts_utc_s",
        last_ts="end_ts",
        first_cid="cid",
        last_cid="end_cid",
        n_records=t.end_pos - t.pos + 1,
    )


def _absorb_pingpong(runs: ir.Table, clean: CleanParams, bridge_s: int) -> ir.Table:
    """A-B-A → A: relabel short runs sandwiched by the same place, then merge neighbours."""
    w = ibis.window(group_by=runs.sid, order_by=RUN_ORDER)
    prev_place, next_place = runs.place.lag().over(w), runs.place.lead().over(w)
    short = (runs.last_ts - runs.first_ts) < int(clean.pingpong_max_minutes * 60)
    sandwiched = (prev_place == next_place) & (prev_place != runs.place)
    t = runs.mutate(place=(short & sandwiched).fill_null(False).ifelse(prev_place, runs.place))
    w2 = ibis.window(group_by=t.sid, order_by=RUN_ORDER)
    p2, prev_last = t.place.lag().over(w2), t.last_ts.lag().over(w2)
    new = p2.isnull() | (p2 != t.place) | (t.first_ts - prev_last > bridge_s)
    t = t.mutate(start=new.cast("int64"))
    t = t.mutate(
        stay=t.start.sum().over(
            ibis.window(group_by=t.sid, order_by=RUN_ORDER, preceding=None, following=0)
        )
    )
    return t.group_by(["sid", "stay"]).aggregate(
        place=t.place.first(),
        first_ts=t.first_ts.min(),
        last_ts=t.last_ts.max(),
        n_records=t.n_records.sum(),
    )


def _attribute(stays: ir.Table, params: StayParams) -> ir.Table:
    w = ibis.window(group_by=stays.sid, order_by=["first_ts", "stay"])
    # No neighbour (start or end of the data): no credit. LEAST skips NULLs, so fill first.
    gap_before = (stays.first_ts - stays.last_ts.lag().over(w)).fill_null(0)
    gap_after = (stays.first_ts.lead().over(w) - stays.last_ts).fill_null(0)
    cap = int(params.max_credit_minutes * 60)
    if params.attribution is Attribution.MIDPOINT:
        before = ibis.least(gap_before // 2, cap)
        after = ibis.least(gap_after // 2, cap)
    else:
        before = ibis.literal(0)
        after = ibis.least(gap_after, cap)
    return stays.select(
        "sid",
        "place",
        arrival_utc_s=stays.first_ts - before,
        departure_utc_s=stays.last_ts + after,
        n_records=stays.n_records,
    )


def stays(
    points: ir.Table, cells: ir.Table, level: str, clean: CleanParams, params: StayParams
) -> ir.Table:
    """Change points → stays at ``level`` ("place": prefecture-level or country, borders resolved;
    "county"): (sid, place, arrival_utc_s, departure_utc_s, n_records)."""
    bridge_s = int(params.bridge_hours * 3600)
    runs = drop_glitches(_runs(points, level), cells, clean)
    runs = resolve_border(runs, clean) if level == "place" else runs.rename(place="county")
    return _attribute(_absorb_pingpong(runs, clean, bridge_s), params)
