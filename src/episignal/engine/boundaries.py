"""Where runs, days and day groups start and end: the engine's one sort of the records.

Each local day D is computed from its *group*: the subscriber's records from ``lookback_s`` before
D's local midnight to the end of D. Groups of neighbouring days overlap, but inside a group the
records are a contiguous stretch of the subscriber's records, so one sort of all the records (each
once) answers every group: a record's neighbour in its group is its neighbour in the whole
sequence, unless the record is the first (last) of the group, which ``ts`` of that neighbour tells.

``mark_boundaries`` sorts the records once and keeps the few where something starts or ends (a run
of some level, a local day, a group); ``group_points`` turns those into each group's change points
(the rows where a run starts or ends, numbered by position in the group), and ``spans.day_spans``
reads each local day's first and last record per place from them. Everything after works on
these few rows.
"""

from __future__ import annotations

import math

import ibis
import ibis.expr.types as ir

from episignal.engine.records import CellKeys
from episignal.engine.spans import SECONDS_PER_DAY
from episignal.engine.stays import LEVEL_KEYS
from episignal.ingest.events import LOCAL_UTC_OFFSET_S

# The subscriber's rank and the group's day share one integer key in the outputs:
# sid = day · SID_SPAN + rank. Ranks stay below this, and the key fits in an int64.
SID_SPAN = 10**10
# A record's order key: its time since the query's origin above its cell key (``CellKeys``), in
# one non-negative int64.
ORDER_BITS = 63


def time_bits(keys: CellKeys) -> int:
    """How many bits of the order key hold the time: a query spans less than 2**this seconds."""
    return ORDER_BITS - keys.bits


def local_day(ts_utc_s: ir.IntegerValue) -> ir.IntegerValue:
    """The local (Asia/Shanghai) day number of a UTC timestamp."""
    return (ts_utc_s + LOCAL_UTC_OFFSET_S) // SECONDS_PER_DAY


def _midnight(day: ir.IntegerValue) -> ir.IntegerValue:
    return day * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S


def _groups_per_record(lookback_s: int) -> int:
    """How many day groups a record belongs to: its own day's and the next days' lookbacks."""
    return 1 + math.ceil(lookback_s / SECONDS_PER_DAY)


def _time_cell(recs: ir.Table, keys: CellKeys, origin: int) -> ir.IntegerValue:
    """The order of a subscriber's records as one integer: seconds since ``origin`` above the cell
    key, i.e. by time, then cell.

    Two records in the same second (a handover, a call on one cell while data goes through
    another) would otherwise come in whatever order a backend happens to produce, and window
    results (lag, running sums) would differ between DuckDB and Spark and between runs; the cell
    key makes the order total. One integer is one sort key instead of two, and one LAG (LEAD) of
    it brings the neighbour's time and cell at once, and with the cell its place, county and
    border place (``CellKeys``): what the boundaries and the glitch check read, without a window
    function of their own over every record.
    """
    return ((recs.ts_utc_s - origin) << keys.bits) | recs.cid


def _unpack_time(key: ir.IntegerValue, keys: CellKeys, origin: int) -> ir.IntegerValue:
    return (key >> keys.bits) + origin


def _unpack_cell(key: ir.IntegerValue, keys: CellKeys) -> ir.IntegerValue:
    return key & ((1 << keys.bits) - 1)


def mark_boundaries(
    recs: ir.Table, keys: CellKeys, lookback_s: int, bridge_s: int, origin: int
) -> ir.Table:
    """The records where a run, a local day or a day group starts or ends.

    ``recs``: sid (subscriber rank), ts_utc_s (none before ``origin``, and less than
    2**``time_bits(keys)`` s after it), cid (the cell key, ``keys``). Columns: sid, ts_utc_s,
    ``pos`` (rank of the record in the subscriber's sequence), ``day`` (local day), cid,
    ``prev_ts``/``prev_cid`` and ``next_ts``/``next_cid`` (the neighbouring records' times and
    cells, NULL at the ends), per level of ``stays.LEVEL_KEYS`` ``start_<level>``/``end_<level>``
    (a run starts/ends here in the whole sequence), and ``span_start``/``span_end`` (a stretch of
    records at one place within one local day starts/ends here: what ``spans.day_spans`` reads).
    """
    recs = recs.select("sid", tc=_time_cell(recs, keys, origin))
    w = ibis.window(group_by=recs.sid, order_by=recs.tc)
    t = recs.mutate(
        pos=ibis.row_number().over(w),
        prev_tc=recs.tc.lag().over(w),
        next_tc=recs.tc.lead().over(w),
    )
    t = t.mutate(
        ts_utc_s=_unpack_time(t.tc, keys, origin),
        prev_ts=_unpack_time(t.prev_tc, keys, origin),
        next_ts=_unpack_time(t.next_tc, keys, origin),
    )
    ts = t.ts_utc_s
    # The local midnight that starts the record's day, in UTC seconds. This and the filter
    # below run on every record: a remainder and comparisons, no division (times are
    # positive: ingest rejects any before EARLIEST_EVENT_UTC_S).
    t = t.mutate(midnight=ts - (ts + LOCAL_UTC_OFFSET_S) % SECONDS_PER_DAY)
    first, last = t.prev_ts.isnull(), t.next_ts.isnull()
    # Kept: where some level's key changes (span boundaries included), a silence, a local day's
    # first or last record (the bounds of the day's own group too, where it has no lookback
    # records), and where the next days' groups, for which this record is lookback, start. Such a
    # group ends where the record's own day does, or later: a day's last record covers it.
    some = keys.mask("any")
    keep = [
        ((t.tc ^ t.prev_tc) & some) != 0,
        ((t.tc ^ t.next_tc) & some) != 0,
        (t.ts_utc_s - t.prev_ts) > bridge_s,
        (t.next_ts - t.ts_utc_s) > bridge_s,
        first | (t.prev_ts < t.midnight),
        last | (t.next_ts >= t.midnight + SECONDS_PER_DAY),
    ]
    for k in range(1, _groups_per_record(lookback_s)):
        # Day + k's lookback begins this many seconds into the record's day; at or before its
        # midnight, the day's first record covers it.
        offset = k * SECONDS_PER_DAY - lookback_s
        if offset > 0:
            start = t.midnight + offset
            keep.append((t.ts_utc_s >= start) & (first | (t.prev_ts < start)))
    # Only the kept few rows get their flags computed.
    t = t.filter(ibis.or_(*keep))
    first, last = t.prev_ts.isnull(), t.next_ts.isnull()
    long_before = (t.ts_utc_s - t.prev_ts) > bridge_s
    long_after = (t.next_ts - t.ts_utc_s) > bridge_s

    def changed(level: str, neighbour: ir.IntegerValue) -> ir.BooleanValue:
        return (((t.tc ^ neighbour) & keys.mask(level)) != 0).fill_null(True)

    return t.mutate(
        day=local_day(t.ts_utc_s),
        **{
            f"start_{level}": first | long_before | changed(level, t.prev_tc)
            for level in LEVEL_KEYS
        },
        **{f"end_{level}": last | long_after | changed(level, t.next_tc) for level in LEVEL_KEYS},
        span_start=first | (t.prev_ts < t.midnight) | changed("span", t.prev_tc),
        span_end=last | (t.next_ts >= t.midnight + SECONDS_PER_DAY) | changed("span", t.next_tc),
        cid=_unpack_cell(t.tc, keys),
        prev_cid=_unpack_cell(t.prev_tc, keys),
        next_cid=_unpack_cell(t.next_tc, keys),
    ).drop("midnight", "tc", "prev_tc", "next_tc")


def group_points(marked: ir.Table, days: list[int], lookback_s: int) -> ir.Table:
    """Each group's change points, ``sid`` = group day · SID_SPAN + subscriber rank.

    For the local days ``days``: the records of the group where a run of some level starts or
    ends *within the group* (``start_<level>``/``end_<level>``), with ``pos`` for run sizes, and
    the neighbouring records' times and cells *within the group* (``prev_ts``/``prev_cid``,
    ``next_ts``/``next_cid``: NULL at the group's ends).
    """
    parts = []
    for k in range(_groups_per_record(lookback_s)):
        g = marked.day + k
        start = _midnight(g) - lookback_s
        t = marked.filter(g.isin(days) & (marked.ts_utc_s >= start))
        first = t.prev_ts.isnull() | (t.prev_ts < start)
        last = t.next_ts.isnull() | (t.next_ts >= _midnight(g + 1))
        flags = {
            **{f"start_{level}": t[f"start_{level}"] | first for level in LEVEL_KEYS},
            **{f"end_{level}": t[f"end_{level}"] | last for level in LEVEL_KEYS},
        }
        t = t.mutate(sid=(t.day + k) * SID_SPAN + t.sid, **flags, **_within(t, first, last))
        parts.append(t.filter(ibis.or_(*[t[name] for name in flags])))
    points = ibis.union(*parts)
    return points.drop("day", "span_start", "span_end")


def _within(t: ir.Table, first: ir.BooleanValue, last: ir.BooleanValue) -> dict[str, ir.Value]:
    """The neighbours' columns, NULL where the neighbour is outside the group."""
    outside = {"prev": first, "next": last}
    columns = [f"{side}_{col}" for side in outside for col in ("ts", "cid")]
    return {c: outside[c.split("_")[0]].ifelse(ibis.null(t[c].type()), t[c]) for c in columns}
