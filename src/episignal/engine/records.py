"""Events joined with the cell registry: each record gets its place at both levels."""

from __future__ import annotations

import ibis.expr.types as ir


def records(events: ir.Table, cells: ir.Table) -> ir.Table:
    """events(subscriber, ts_utc_s, cell_id) ⋈ cells → one row per event with its places.

    Columns: subscriber, ts_utc_s, place (prefecture-level code or country), county (county code or
    country), alt (the other place a border cell overlaps, "" if none), lon, lat, radius_m.
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
    return e.join(c, "cell_id").drop("cell_id")
