"""Events joined with the cell registry: each record gets its place at both levels."""

from __future__ import annotations

import ibis.expr.types as ir

# Order of a subscriber's records. Two records in the same second (a handover, a call on one cell
# while data goes through another) would otherwise come in whatever order a backend happens to
# produce, and window results (lag, running sums) would differ between DuckDB and Spark and
# between runs; the cell id makes the order total.
RECORD_ORDER = ("ts_utc_s", "cell_id")


def records(events: ir.Table, cells: ir.Table) -> ir.Table:
    """events(subscriber, ts_utc_s, cell_id) ⋈ cells → one row per event with its places.

    Columns: subscriber, ts_utc_s, cell_id, place (prefecture-level code or country), county
    (county code or country), alt (the other place a border cell overlaps, "" if none), lon, lat,
    radius_m.
    """
    c = cells.select(
        "cell_id",
        place="place_code",
        county="county_place",
        alt="alt_place",
        lon="lon",
        lat="lat",
        radius_m="radius_m",
    )
    e = events.select("subscriber", "ts_utc_s", "cell_id")
    return e.join(c, "cell_id")
