"""Cleaning, on runs (consecutive records of a subscriber on one place and border status).

Both steps work on runs (or the records where they start and end) rather than on every record, so
they cost little next to the one sort of the records that finds the runs
(``boundaries.mark_boundaries``):

1. ``drop_glitches``: a one-record run that is reachable neither from the previous run nor to the
   next below ``max_speed_kmh`` (distance between the cells' coverage edges) is a glitch, not a
   trip, and is dropped.
2. ``resolve_border``: a run on *border cells* (whose coverage overlaps another place's cells) is
   ambiguous between its own place and ``alt``. The prior is the *anchor* — the place of the
   nearest run of ``anchor_min_minutes`` or more on unambiguous cells before it (else after it)
   within ``anchor_max_age_hours`` — else the subscriber's dominant place (most records in the
   context). The border records within ``majority_window_hours`` overrule the prior when they are
   on both sides and one side has ``majority_ratio`` times the other's. Someone living in A beside
   B thus stays in A however often the phone camps on B's cells, someone working just inside B is
   in B, and someone who goes into B's interior is in B.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from episignal.engine.params import CleanParams

KM_PER_DEG_LAT = 110.574
KM_PER_DEG_LON_EQUATOR = 111.320
# Anchor keys pack (time, place rank) into one integer so a running max finds the latest anchor
# and its place at once: ts · PLACE_KEYS + pid, with pid < PLACE_KEYS (places are ~400).
PLACE_KEYS = 100_000


def _edge_distance_km(lon1, lat1, r1, lon2, lat2, r2) -> ir.FloatingValue:
    """Distance between two cells' coverage edges (equirectangular: fine at these scales)."""
    mean_lat = ((lat1 + lat2) / 2).radians()
    dx = (lon2 - lon1) * KM_PER_DEG_LON_EQUATOR * mean_lat.cos()
    dy = (lat2 - lat1) * KM_PER_DEG_LAT
    centre = (dx * dx + dy * dy).sqrt()
    return ibis.greatest(centre - (r1 + r2) / 1000.0, 0.0)


def drop_glitches(
    points: ir.Table, one_record: ir.BooleanValue, cells: ir.Table, params: CleanParams
) -> ir.Table:
    """``points`` (sid, ts_utc_s, cid, prev_ts, prev_cid, next_ts, next_cid, …: the records where
    runs start or end) without the one-record runs (``one_record``) that are glitches.

    A glitch is one record, so it is checked against its neighbouring records (the previous run's
    last, the next run's first; NULL at the group's ends: never a glitch), which every point
    carries; only the few one-record runs are joined with their cells' coordinates.
    """
    single = points.filter(one_record)
    own = cells.select(cid="cid", f_lon="lon", f_lat="lat", f_r="radius_m")
    prev = cells.select(prev_cid="cid", p_lon="lon", p_lat="lat", p_r="radius_m")
    nxt = cells.select(next_cid="cid", n_lon="lon", n_lat="lat", n_r="radius_m")
    t = single.join(own, "cid").left_join(prev, "prev_cid").left_join(nxt, "next_cid")
    d_prev = _edge_distance_km(t.p_lon, t.p_lat, t.p_r, t.f_lon, t.f_lat, t.f_r)
    d_next = _edge_distance_km(t.f_lon, t.f_lat, t.f_r, t.n_lon, t.n_lat, t.n_r)
    h_prev = ibis.greatest(t.ts_utc_s - t.prev_ts, 1) / 3600.0
    h_next = ibis.greatest(t.next_ts - t.ts_utc_s, 1) / 3600.0
    glitch = (d_prev / h_prev > params.max_speed_kmh) & (d_next / h_next > params.max_speed_kmh)
    kept = t.filter(~glitch.fill_null(False)).select(points.columns)
    return points.filter(~one_record).union(kept)


def _dominant_places(runs: ir.Table) -> ir.Table:
    """(dom_sid, dominant_pid): the place with most records per subscriber (ties: lower rank).

    Two aggregations, no window: the best place has the largest n · PLACE_KEYS + (PLACE_KEYS - 1
    - pid), most records first, then the lower rank.
    """
    # 64-bit sums: DuckDB would sum into 128 bits, and compute the key in 128 bits too.
    counts = runs.group_by(["sid", "pid"]).aggregate(n=runs.n_records.sum().cast("int64"))
    key = counts.n * PLACE_KEYS + (PLACE_KEYS - 1 - counts.pid)
    best = counts.group_by("sid").aggregate(key=key.max())
    return best.select(dom_sid="sid", dominant_pid=PLACE_KEYS - 1 - best.key % PLACE_KEYS)


def _local_votes(border_runs: ir.Table, params: CleanParams) -> ir.Table:
    """``border_runs`` (the runs on border cells) with ``own_votes`` and ``alt_votes``: their
    records within ``majority_window_hours`` of the run's start, on its own place's cells and on
    others'. Only border records vote, so only border runs are in the frames."""
    t = border_runs
    w = int(params.majority_window_hours * 3600)
    near = ibis.range_window(preceding=w, following=w, group_by=t.sid, order_by=t.first_ts)
    near_own = ibis.range_window(
        preceding=w, following=w, group_by=[t.sid, t.pid], order_by=t.first_ts
    )
    own = t.n_records.sum().over(near_own)
    return t.mutate(own_votes=own, alt_votes=t.n_records.sum().over(near) - own)


def _anchors(runs: ir.Table, params: CleanParams) -> ir.Table:
    """The border runs of ``runs`` with ``prev_anchor``/``next_anchor``: the place of the
    nearest stay on unambiguous cells before (after) the run within ``anchor_max_age_hours``.

    Only a stay anchors: a train through a city's interior says nothing about where one lives. The
    frames see only border runs and anchoring stays, the only runs that matter.
    """
    min_s = int(params.anchor_min_minutes * 60)
    border = runs.alt_pid.notnull()
    interior = runs.alt_pid.isnull() & ((runs.last_ts - runs.first_ts) >= min_s)
    t = runs.filter(border | interior).mutate(interior=interior)
    # Frames include the run itself: harmless, a border run is never its own anchor (key NULL).
    # ``run`` (its first record's position) orders a subscriber's runs, as their times do.
    before = ibis.window(group_by=t.sid, order_by=t.run, preceding=None, following=0)
    after = ibis.window(group_by=t.sid, order_by=t.run, preceding=0, following=None)
    # The anchor before a run is the latest interior run's end; after it, the next one's start.
    k_end = t.interior.ifelse(t.last_ts * PLACE_KEYS + t.pid, ibis.null(dt.int64))
    k_start = t.interior.ifelse(t.first_ts * PLACE_KEYS + t.pid, ibis.null(dt.int64))
    t = t.mutate(k_prev=k_end.max().over(before), k_next=k_start.min().over(after))
    t = t.filter(~t.interior)
    max_age = int(params.anchor_max_age_hours * 3600)

    def anchor(k: ir.IntegerValue, later: bool) -> ir.IntegerValue:
        ts = k // PLACE_KEYS
        age = (ts - t.last_ts) if later else (t.first_ts - ts)
        return (k.notnull() & (age <= max_age)).ifelse(k % PLACE_KEYS, ibis.null(dt.int64))

    anchors = {"prev_anchor": anchor(t.k_prev, False), "next_anchor": anchor(t.k_next, True)}
    return t.select(*runs.columns, **anchors)


def resolve_border(runs: ir.Table, params: CleanParams) -> ir.Table:
    """runs with (pid, alt_pid) → the same runs with ``place``: the key of the resolved place
    (``pid`` or ``alt_pid``).

    Most runs are not on border cells and keep their place; only the border runs (with the stays
    that anchor them) go through the windows that resolve them.
    """
    t = _local_votes(_anchors(runs, params), params)
    dominant = _dominant_places(runs)
    t = t.left_join(dominant, t.sid == dominant.dom_sid)
    own_votes, alt_votes = t.own_votes, t.alt_votes
    # The prior: the anchor before, else after, else the dominant place. Border records nearby on
    # both sides' cells override it when one side has ``majority_ratio`` times the other's records
    # (someone working just inside B, the phone mostly on B's border cell, is in B); records all
    # on the run's own side never do (the phone straight from A's interior onto B's border cell
    # and back: B's cell reaches into A).
    prior = ibis.coalesce(t.prev_anchor, t.next_anchor, t.dominant_pid)
    mixed = alt_votes > 0
    strong_alt = mixed & (alt_votes >= own_votes * params.majority_ratio)
    strong_own = mixed & (own_votes >= alt_votes * params.majority_ratio)
    to_alt = strong_alt | (~strong_own & (prior == t.alt_pid))
    resolved = t.mutate(place=to_alt.fill_null(False).ifelse(t.alt_pid, t.pid))
    unambiguous = runs.filter(runs.alt_pid.isnull())
    return unambiguous.mutate(place=unambiguous.pid).union(resolved.select(*runs.columns, "place"))
