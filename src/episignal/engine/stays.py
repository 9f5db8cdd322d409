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

from collections.abc import Callable

import ibis
import ibis.expr.types as ir

from episignal.engine.clean import drop_glitches, resolve_border
from episignal.engine.params import Attribution, CleanParams, StayParams

# What makes two consecutive records part of one run, per level (keys of ``records.keyed_cells``).
LEVEL_KEYS = {"place": ("pid", "alt_pid"), "county": ("kid",)}
# What a run carries from its first record, per level.
LEVEL_COLUMNS = {"place": ("pid", "alt_pid"), "county": ("kid",)}


def _runs(points: ir.Table, cells: ir.Table, level: str, clean: CleanParams) -> ir.Table:
    """The runs at ``level``, glitches dropped.

    Starts and ends alternate in record order (a one-record run is both on one row), so once the
    glitches (one-record runs) are gone the row after a start is its run's end: one window over
    the change points pairs them.
    """
    t = points.filter(points[f"start_{level}"] | points[f"end_{level}"])
    t = drop_glitches(t, t[f"start_{level}"] & t[f"end_{level}"], cells, clean)
    w = ibis.window(group_by=t.sid, order_by=t.pos)
    t = t.mutate(after_pos=t.pos.lead().over(w), after_ts=t.ts_utc_s.lead().over(w))
    t = t.filter(t[f"start_{level}"])
    one_record = t[f"end_{level}"]
    return t.select(
        "sid",
        *LEVEL_COLUMNS[level],
        run="pos",
        first_ts="ts_utc_s",
        last_ts=one_record.ifelse(t.ts_utc_s, t.after_ts),
        n_records=one_record.ifelse(1, t.after_pos - t.pos + 1),
    )


def _relabel(
    prev_place: ir.Value, place: ir.Value, next_place: ir.Value, short: ir.BooleanValue
) -> ir.Value:
    """A-B-A → A: a short run between two runs at the same other place takes their place."""
    sandwiched = (prev_place == next_place) & (prev_place != place)
    return (short & sandwiched).fill_null(False).ifelse(prev_place, place)


# A run's place key (a rank among a few thousand codes) fits these bits of a neighbour key.
_PLACE_BITS = 21
# The silence after a stay fits these bits of its end key: it lies within one day's group (the
# day and its lookback), far shorter than 2**22 seconds (48 days).
_GAP_BITS = 22


def _neighbour_key(
    ts: ir.IntegerValue, place: ir.IntegerValue, short: ir.BooleanValue
) -> ir.IntegerValue:
    """What a neighbouring run tells, as one integer: a time (seconds, below 2**41) above its
    place key above its ping-pong flag. One window function brings all three."""
    packed = (ts << (_PLACE_BITS + 1)) | (place.cast("int64") << 1)
    return packed | short.cast("int64")


def _key_time(key: ir.IntegerValue) -> ir.IntegerValue:
    return key >> (_PLACE_BITS + 1)


def _key_place(key: ir.IntegerValue, like: ir.IntegerValue) -> ir.IntegerValue:
    return ((key >> 1) & ((1 << _PLACE_BITS) - 1)).cast(like.type())


def _key_short(key: ir.IntegerValue) -> ir.BooleanValue:
    return (key & 1) == 1


def _stays_of_runs(
    runs: ir.Table, clean: CleanParams, params: StayParams, bridge_s: int
) -> ir.Table:
    """Ping-pong absorbed, neighbouring runs at one place merged, silences attributed.

    A stay starts at a run whose place (after ping-pong) differs from the previous run's, or after
    a silence over ``bridge_s``; it ends before the next such run. One window over the runs tells
    both (the previous and next runs' places after ping-pong are functions of the runs up to two
    away), with the silences around the stay and a running count of records; a second one over
    the stays' first and last runs joins each stay's start to its end.
    """
    pingpong_s = int(clean.pingpong_max_minutes * 60)
    t = runs.mutate(short=(runs.last_ts - runs.first_ts) < pingpong_s)
    w = ibis.window(group_by=t.sid, order_by=t.run)
    upto = ibis.window(group_by=t.sid, order_by=t.run, preceding=None, following=0)
    # Computed in stages, each on the columns of the one before: the expression stays small.
    # The neighbouring runs' place, ping-pong flag and time come in one LAG (LEAD) each.
    t = t.mutate(
        place_2=t.place.lag(2).over(w),
        prev=_neighbour_key(t.last_ts, t.place, t.short).lag().over(w),
        next=_neighbour_key(t.first_ts, t.place, t.short).lead().over(w),
        place2=t.place.lead(2).over(w),
        records_to=t.n_records.sum().over(upto),
    )
    t = t.mutate(
        place_1=_key_place(t.prev, t.place),
        short_1=_key_short(t.prev),
        prev_last=_key_time(t.prev),
        place1=_key_place(t.next, t.place),
        short1=_key_short(t.next),
        next_first=_key_time(t.next),
    )
    t = t.mutate(
        here=_relabel(t.place_1, t.place, t.place1, t.short),
        before=_relabel(t.place_2, t.place_1, t.place, t.short_1),
        after=_relabel(t.place, t.place1, t.place2, t.short1),
    )
    starts = t.before.isnull() | (t.before != t.here) | (t.first_ts - t.prev_last > bridge_s)
    ends = t.next_first.isnull() | (t.here != t.after) | (t.next_first - t.last_ts > bridge_s)
    # The run's end and the silence after it travel in one integer to the stay's first run. The
    # silence is kept whole, not only the part the credit uses: where it ends tells whether the
    # next record is in the group's own day (``silence_end_utc_s``).
    gap_limit = (1 << _GAP_BITS) - 1
    if params.lookback_hours * 3600 + 24 * 3600 > gap_limit:
        raise ValueError(f"lookback_hours above {(gap_limit - 24 * 3600) // 3600} is not supported")
    # No neighbour (start or end of the data): no credit.
    gap_after = ibis.least((t.next_first - t.last_ts).fill_null(0), gap_limit)
    t = t.select(
        "sid",
        "run",
        "first_ts",
        "n_records",
        "records_to",
        place="here",
        starts=starts.fill_null(False),
        ends=ends.fill_null(False),
        gap_before=(t.first_ts - t.prev_last).fill_null(0),
        end=(t.last_ts << _GAP_BITS) | gap_after,
    )
    t = t.filter(t.starts | t.ends)
    w2 = ibis.window(group_by=t.sid, order_by=t.run)

    def at_end(column: str) -> ir.Value:
        return t.ends.ifelse(t[column], t[column].lead().over(w2))

    t = t.mutate(end=at_end("end"), n_records=at_end("records_to") - t.records_to + t.n_records)
    t = t.filter(t.starts).mutate(
        last_ts=t.end >> _GAP_BITS, gap_after=t.end & ((1 << _GAP_BITS) - 1)
    )
    return _attribute(t, params)


def _attribute(stays: ir.Table, params: StayParams) -> ir.Table:
    """stays(sid, place, first_ts, last_ts, gap_before, gap_after, n_records) → arrival and
    departure with the silences around them credited per ``params.attribution``, and
    ``silence_end_utc_s``: where the silence after the stay ends (the next record's time; the
    stay's own last record's when nothing follows)."""
    cap = int(params.max_credit_minutes * 60)
    if params.attribution is Attribution.MIDPOINT:
        before = ibis.least(stays.gap_before // 2, cap)
        after = ibis.least(stays.gap_after // 2, cap)
    else:
        before = ibis.literal(0)
        after = ibis.least(stays.gap_after, cap)
    return stays.select(
        "sid",
        "place",
        arrival_utc_s=stays.first_ts - before,
        departure_utc_s=stays.last_ts + after,
        n_records=stays.n_records.cast("int64"),
        silence_end_utc_s=stays.last_ts + stays.gap_after,
    )


def stays(
    points: ir.Table,
    cells: ir.Table,
    level: str,
    clean: CleanParams,
    params: StayParams,
    keep: Callable[[ir.Table], ir.Table] = lambda t: t,
) -> ir.Table:
    """Change points → stays at ``level`` ("place": prefecture-level or country, borders resolved;
    "county"): (sid, place, arrival_utc_s, departure_utc_s, n_records, silence_end_utc_s),
    ``place`` being the key of the place (``pid``) or county (``kid``) in the keyed registry.

    ``keep`` is applied to the runs (``io.kept_tables``, say): border resolution reads them three
    times, and an expression cut in two compiles in far less time than the whole (about half a
    second of Python less per query).
    """
    bridge_s = int(params.bridge_hours * 3600)
    runs = keep(_runs(points, cells, level, clean))
    runs = resolve_border(runs, clean) if level == "place" else runs.rename(place="kid")
    return _stays_of_runs(runs, clean, params, bridge_s)
