"""Stays: maximal runs of records at one place, with arrival and departure.

A new stay starts when the place changes, or when the phone was silent longer than
``bridge_hours`` (a night with the phone off at one place is presence there; two days of silence
is not). A run shorter than ``pingpong_max_minutes`` between two runs at the same other place is
ping-pong and joins them. The silence between the last record of one stay and the first of the
next is attributed per ``StayParams.attribution``, at most ``max_credit_minutes`` per side.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from episignal.engine.params import Attribution, CleanParams, StayParams
from episignal.engine.records import RECORD_ORDER

STAY_COLUMNS = ("subscriber", "place", "arrival_utc_s", "departure_utc_s", "n_records")


def _runs(recs: ir.Table, label: str, bridge_s: int) -> ir.Table:
    w = ibis.window(group_by=recs.subscriber, order_by=RECORD_ORDER)
    prev_label = recs[label].lag().over(w)
    prev_ts = recs.ts_utc_s.lag().over(w)
    starts = (
        prev_label.isnull() | (prev_label != recs[label]) | (recs.ts_utc_s - prev_ts > bridge_s)
    )
    t = recs.mutate(start=starts.cast("int64"))
    t = t.mutate(
        run=t.start.sum().over(
            ibis.window(group_by=t.subscriber, order_by=RECORD_ORDER, preceding=None, following=0)
        )
    )
    return t.group_by(["subscriber", "run"]).aggregate(
        place=t[label].first(),  # constant within a run
        first_ts=t.ts_utc_s.min(),
        last_ts=t.ts_utc_s.max(),
        n_records=t.count(),
    )


def _absorb_pingpong(runs: ir.Table, clean: CleanParams, bridge_s: int) -> ir.Table:
    """A-B-A → A: relabel short runs sandwiched by the same place, then merge neighbours."""
    # Two runs can start in the same second (simultaneous records); run numbers break the tie.
    w = ibis.window(group_by=runs.subscriber, order_by=["first_ts", "run"])
    prev_place, next_place = runs.place.lag().over(w), runs.place.lead().over(w)
    short = (runs.last_ts - runs.first_ts) < int(clean.pingpong_max_minutes * 60)
    sandwiched = (prev_place == next_place) & (prev_place != runs.place)
    t = runs.mutate(place=(short & sandwiched).fill_null(False).ifelse(prev_place, runs.place))
    w2 = ibis.window(group_by=t.subscriber, order_by=["first_ts", "run"])
    p2, prev_last = t.place.lag().over(w2), t.last_ts.lag().over(w2)
    new = p2.isnull() | (p2 != t.place) | (t.first_ts - prev_last > bridge_s)
    t = t.mutate(start=new.cast("int64"))
    t = t.mutate(
        stay=t.start.sum().over(
            ibis.window(
                group_by=t.subscriber, order_by=["first_ts", "run"], preceding=None, following=0
            )
        )
    )
    return t.group_by(["subscriber", "stay"]).aggregate(
        place=t.place.first(),
        first_ts=t.first_ts.min(),
        last_ts=t.last_ts.max(),
        n_records=t.n_records.sum(),
    )


def _attribute(stays: ir.Table, params: StayParams) -> ir.Table:
    w = ibis.window(group_by=stays.subscriber, order_by=["first_ts", "stay"])
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
        "subscriber",
        "place",
        arrival_utc_s=stays.first_ts - before,
        departure_utc_s=stays.last_ts + after,
        n_records=stays.n_records,
    )


def stays(recs: ir.Table, label: str, clean: CleanParams, params: StayParams) -> ir.Table:
    """records with a ``label`` column (the place at some level) → stays of STAY_COLUMNS."""
    bridge_s = int(params.bridge_hours * 3600)
    runs = _runs(recs, label, bridge_s)
    return _attribute(_absorb_pingpong(runs, clean, bridge_s), params)
