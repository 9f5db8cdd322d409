"""Why listed places are wrong: what the records said, next to what the truth says.

Each wrong (subscriber, place) pair of a rule is put in one class, so that an analyst can tell
errors the signaling itself points to (no rule can avoid them) from errors of the rule:

False places (listed, not true). First, where the subscriber's records on the place's cells in
the window were taken: when most of them were taken while the subscriber was truly elsewhere,
the records put the subscriber there (whether or not a short true visit happened too):
- ``border_records_there``: each of those records was on a border cell whose other side is where
  the subscriber truly was: a neighbour city's border cell serving someone on the near side of
  the boundary. A rule can only put such records on one side or the other by the odds
  (``border_odds``);
- ``records_there``: some were not: an interior cell, or a border cell towards a third place.
Otherwise the rule made the place from records taken there:
- ``short_visit``: a true stay shorter than ``hours - margin``, counted as long enough;
- ``near_threshold``: a true stay within ``margin`` below the threshold;
- ``never_there``: no true stay and no record on its cells: the rule moved records there.

Missed places (true, not listed):
- ``records_elsewhere``: during the true stays there, most of the subscriber's records were on
  other places' cells, or there were none;
- ``near_threshold``: a true stay within ``margin`` above the threshold;
- ``missed``: the records were there and the stay long enough: the rule's own miss.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

NEAR_THRESHOLD_HOURS = 1.0  # a true stay this close to the threshold is a timing call
# The longest part of each true (subscriber, place) stay inside the window [$lo, $hi): both
# classifications read it.
_LONGEST = """
    select subscriber, place_code,
           max(least(departure_utc_s, $hi) - greatest(arrival_utc_s, $lo)) as longest
    from stays where departure_utc_s > $lo and arrival_utc_s < $hi group by all"""


def classify_errors(
    truth_stays: pa.Table,
    truth_pairs: pa.Table,
    listed: pa.Table,
    records: pa.Table,
    window: tuple[int, int],
    hours: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(false places, missed places), each (subscriber, place_code, cause).

    truth_stays: (subscriber, place_code, arrival_utc_s, departure_utc_s) of the true stays;
    truth_pairs and listed: (subscriber, place_code); records: (subscriber, ts_utc_s, place_code)
    of the subscribers' events, each on its cell's place, and ``alt_place``, the other place of a
    border cell ("" or NULL for other cells); window: [start, end) in UTC seconds.
    """
    con = duckdb.connect()
    try:
        con.register("stays", truth_stays)
        con.register("truth", truth_pairs)
        con.register("listed", listed)
        con.register("recs", records)
        lo, hi = window
        threshold_s = int(hours * 3600)
        margin_s = int(NEAR_THRESHOLD_HOURS * 3600)
        con.execute("create table longest as " + _LONGEST, {"lo": lo, "hi": hi})
        false_places = con.sql(
            """
            with wrong as (select subscriber, place_code from listed
                           except select subscriber, place_code from truth),
                 -- each record of a wrong pair on the place's cells, with where the
                 -- subscriber truly was then (NULL: in no true stay, e.g. in the air)
                 there as (select r.subscriber, r.place_code, r.alt_place,
                                  t.place_code as true_place
                           from recs r semi join wrong w using (subscriber, place_code)
                           left join stays t on t.subscriber = r.subscriber
                               and r.ts_utc_s >= t.arrival_utc_s
                               and r.ts_utc_s < t.departure_utc_s
                           where r.ts_utc_s >= $lo and r.ts_utc_s < $hi),
                 seen as (select subscriber, place_code,
                                 count(*) as n,
                                 count(*) filter (where true_place is distinct from place_code)
                                     as elsewhere,
                                 -- the records taken elsewhere: all on border cells facing
                                 -- where the subscriber truly was?
                                 bool_and(coalesce(alt_place = true_place, false))
                                     filter (where true_place is distinct from place_code)
                                     as ambiguous
                          from there group by all)
            select w.subscriber, w.place_code,
                   case when s.elsewhere * 2 > s.n and s.ambiguous then 'border_records_there'
                        when s.elsewhere * 2 > s.n then 'records_there'
                        when l.longest is not null and l.longest >= $below
                            then 'near_threshold'
                        when l.longest is not null then 'short_visit'
                        else 'never_there' end as cause
            from wrong w
            left join longest l using (subscriber, place_code)
            left join seen s using (subscriber, place_code)
            order by all""",
            params={"lo": lo, "hi": hi, "below": threshold_s - margin_s},
        ).df()
        missed = con.sql(
            """
            with missing as (select subscriber, place_code from truth
                             except select subscriber, place_code from listed),
                 during as (
                    select m.subscriber, m.place_code,
                           avg((r.place_code = m.place_code)::int) as share_there
                    from missing m
                    join stays s using (subscriber, place_code)
                    join recs r on r.subscriber = m.subscriber
                        and r.ts_utc_s >= greatest(s.arrival_utc_s, $lo)
                        and r.ts_utc_s < least(s.departure_utc_s, $hi)
                    group by all)
            select m.subscriber, m.place_code,
                   case when coalesce(d.share_there, 0) < 0.5 then 'records_elsewhere'
                        when l.longest < $above then 'near_threshold'
                        else 'missed' end as cause
            from missing m
            left join during d using (subscriber, place_code)
            left join longest l using (subscriber, place_code)
            order by all""",
            params={"lo": lo, "hi": hi, "above": threshold_s + margin_s},
        ).df()
    finally:
        con.close()
    return false_places, missed


def cause_counts(false_places: pd.DataFrame, missed: pd.DataFrame) -> dict[str, dict[str, int]]:
    """{"false": {cause: n}, "missed": {cause: n}}."""
    return {
        "false": false_places["cause"].value_counts().sort_index().to_dict(),
        "missed": missed["cause"].value_counts().sort_index().to_dict(),
    }


def border_odds(
    truth_stays: pa.Table, records: pa.Table, window: tuple[int, int]
) -> dict[str, int]:
    """Where subscribers seen only on border cells truly were, record by record.

    A subscriber whose every record in the window is on border cells gives a rule nothing
    unambiguous to anchor on: each record is in its cell's own place or in the cell's ``alt_place``,
    and a rule can only bet. These counts are the odds of that bet on this data: records truly in
    the cell's own place (``own``), in its alternate (``alt``), elsewhere (``other``: a third
    place, or no true stay then). A rule that takes the own side wins ``own`` of them.
    """
    con = duckdb.connect()
    try:
        con.register("stays", truth_stays)
        con.register("recs", records)
        lo, hi = window
        rows = con.sql(
            """
            with w as (select * from recs where ts_utc_s >= $lo and ts_utc_s < $hi),
                 only_border as (select subscriber from w group by subscriber
                                 having bool_and(coalesce(alt_place, '') <> ''))
            select case when t.place_code = w.place_code then 'own'
                        when t.place_code = w.alt_place then 'alt'
                        else 'other' end as side,
                   count(*) as n
            from w semi join only_border using (subscriber)
            left join stays t on t.subscriber = w.subscriber
                and w.ts_utc_s >= t.arrival_utc_s and w.ts_utc_s < t.departure_utc_s
            group by all""",
            params={"lo": lo, "hi": hi},
        ).fetchall()
    finally:
        con.close()
    counts = {"own": 0, "alt": 0, "other": 0}
    counts.update({side: int(n) for side, n in rows})
    return counts
