"""Cleaning: drop impossible jumps, resolve ping-pong between neighbouring cities' cells.

Two steps, each a function of the records table:

1. ``drop_jumps``: a record that is reachable neither from the previous nor to the next record
   below ``max_speed_kmh`` (distance between the cells' coverage edges) is a glitch, not a trip.
2. ``resolve_border``: a record on a *border cell* (its coverage overlaps another place's cells)
   is ambiguous between its own place and ``alt``. It is given to the *anchor*: the place of the
   nearest unambiguous record before it (else after it) within ``anchor_max_age_hours``, when the
   anchor is ``alt``; with no anchor in reach, the subscriber's dominant place (most records in
   the context) stands in for it. Someone living in city A beside city B thus stays in A however
   often the phone camps on B's cells, while someone who goes into B's interior is in B.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from episignal.engine.params import CleanParams
from episignal.engine.records import RECORD_ORDER

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
_TS_DIGITS = 10  # epoch seconds as fixed-width text sort like numbers (until the year 2286)


def _edge_distance_km(lon1, lat1, r1, lon2, lat2, r2) -> ir.FloatingValue:
    """Distance between two cells' coverage edges (equirectangular: fine at these scales)."""
    mean_lat = ((lat1 + lat2) / 2).radians()
    dx = (lon2 - lon1) * KM_PER_DEG_LON_EQUATOR * mean_lat.cos()
    dy = (lat2 - lat1) * KM_PER_DEG_LAT
    centre = (dx * dx + dy * dy).sqrt()
    return ibis.greatest(centre - (r1 + r2) / 1000.0, 0.0)


def drop_jumps(recs: ir.Table, params: CleanParams) -> ir.Table:
    w = ibis.window(group_by=recs.subscriber, order_by=RECORD_ORDER)
    t = recs.mutate(
        p_lon=recs.lon.lag().over(w),
        p_lat=recs.lat.lag().over(w),
        p_r=recs.radius_m.lag().over(w),
        p_ts=recs.ts_utc_s.lag().over(w),
        n_lon=recs.lon.lead().over(w),
        n_lat=recs.lat.lead().over(w),
        n_r=recs.radius_m.lead().over(w),
        n_ts=recs.ts_utc_s.lead().over(w),
    )
    d_prev = _edge_distance_km(t.p_lon, t.p_lat, t.p_r, t.lon, t.lat, t.radius_m)
    d_next = _edge_distance_km(t.lon, t.lat, t.radius_m, t.n_lon, t.n_lat, t.n_r)
    h_prev = ibis.greatest(t.ts_utc_s - t.p_ts, 1) / 3600.0
    h_next = ibis.greatest(t.n_ts - t.ts_utc_s, 1) / 3600.0
    jump = (d_prev / h_prev > params.max_speed_kmh) & (d_next / h_next > params.max_speed_kmh)
    return t.filter(~jump.fill_null(False)).select(recs.columns)


def resolve_border(recs: ir.Table, params: CleanParams) -> ir.Table:
    """Adds ``place_clean``: the record's place after border resolution."""
    is_anchor = recs.alt == ""
    key = is_anchor.ifelse(
        recs.ts_utc_s.cast(dt.string).lpad(_TS_DIGITS, "0") + recs.place, ibis.null(dt.string)
    )
    before = ibis.window(
        group_by=recs.subscriber, order_by=RECORD_ORDER, preceding=None, following=0
    )
    after = ibis.window(
        group_by=recs.subscriber, order_by=RECORD_ORDER, preceding=0, following=None
    )
    t = recs.mutate(k_prev=key.max().over(before), k_next=key.min().over(after))
    max_age = int(params.anchor_max_age_hours * 3600)

    def anchor(k: ir.StringValue, later: bool) -> ir.StringValue:
        ts = k.substr(0, _TS_DIGITS).cast(dt.int64)
        age = (ts - t.ts_utc_s) if later else (t.ts_utc_s - ts)
        return (k.notnull() & (age <= max_age)).ifelse(k.substr(_TS_DIGITS), ibis.null(dt.string))

    prev_anchor, next_anchor = anchor(t.k_prev, False), anchor(t.k_next, True)
    t = t.mutate(prev_anchor=prev_anchor, next_anchor=next_anchor)
    # Without an anchor in reach (someone who stays in the border zone), the place where the
    # subscriber's phone is seen most in the context decides between the two sides.
    counts = recs.group_by(["subscriber", "place"]).aggregate(n=ibis._.count())
    rank = ibis.row_number().over(
        ibis.window(group_by=counts.subscriber, order_by=[ibis.desc(counts.n), counts.place])
    )
    dominant = (
        counts.mutate(rank=rank)
        .filter(ibis._.rank == 0)
        .select(dom_subscriber="subscriber", dominant="place")
    )
    t = t.left_join(dominant, t.subscriber == dominant.dom_subscriber)
    border = t.alt != ""
    no_anchor = t.prev_anchor.isnull() & t.next_anchor.isnull()
    place_clean = ibis.cases(
        (border & (t.prev_anchor == t.alt), t.alt),
        (border & t.prev_anchor.isnull() & (t.next_anchor == t.alt), t.alt),
        (border & no_anchor & (t.dominant == t.alt), t.alt),
        else_=t.place,
    )
    return t.mutate(place_clean=place_clean).drop(
        "k_prev", "k_next", "prev_anchor", "next_anchor", "dom_subscriber", "dominant"
    )
