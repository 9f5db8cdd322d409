"""Events joined with the cell registry: each record gets its places, under integer keys.

Windows partition and sort on every record, so their keys are integers: ``sid`` (the rank of the
subscriber's pseudonym among the day's subscribers), ``cid`` (the rank of the cell id), ``pid``
(the rank of the place code) and ``kid`` (the rank of the county code). Ranks are assigned by
ordering the codes, so both backends derive the same keys, and they are exact (no hashing, no
collisions). Places and counties stay integers through every window after the sort too (a window
moves each row's every column, and a string is twice an integer's width); their codes are joined
back onto the few output rows (``place_codes``, ``county_codes``).
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from episignal.engine.io import from_arrow, to_arrow

# Subscriber and cell ranks are 32-bit: the one sort of the records compares and moves narrower
# keys (a quarter less work than with 64-bit ones), and two billion subscribers or cells is plenty.
KEY_TYPE = "int32"
# Characters of the pseudonym that bucket subscribers for their numbering (``subscriber_keys``).
BUCKET_CHARS = 3


def subscriber_keys(
    con: ibis.BaseBackend, events: ir.Table, keep: Callable[[ir.Table], ir.Table]
) -> ir.Table:
    """(subscriber, sid) for the subscribers of ``events``: sid is the subscriber's rank among
    them (from 0, in pseudonym order), computed once (``keep``: from ``io.kept_tables``).

    A window ordering every subscriber would run in one task on Spark, however large the cluster
    (a national carrier has hundreds of millions), so subscribers are ranked within buckets of
    their first ``BUCKET_CHARS`` characters (pseudonyms are hex: 4,096 buckets of about equal
    size), and each bucket's rank is offset by the sizes of the buckets before it. A string's
    prefix orders strings as the strings do, so the ranks are exactly the global ones.
    """
    subs = events.select("subscriber").distinct()
    subs = keep(subs.mutate(bucket=subs.subscriber.left(BUCKET_CHARS)))
    sizes = to_arrow(con, subs.group_by("bucket").aggregate(n=subs.count()))
    # Arrow orders text by code point (its UTF-8 bytes), as both backends do.
    sizes = sizes.sort_by("bucket")
    first = pc.subtract(pc.cumulative_sum(sizes["n"]), sizes["n"])
    offsets = from_arrow(con, pa.table({"bucket": sizes["bucket"], "first_sid": first}))
    w = ibis.window(group_by=subs.bucket, order_by=subs.subscriber)
    ranked = subs.mutate(within=ibis.row_number().over(w)).join(offsets, "bucket")
    return keep(ranked.select("subscriber", sid=(ranked.first_sid + ranked.within).cast(KEY_TYPE)))


def _ranked_codes(codes: ir.StringColumn, key: str) -> ir.Table:
    """(code, ``key``): each distinct code and its rank among them."""
    t = codes.name("code").as_table().distinct()
    return t.mutate(**{key: ibis.row_number().over(order_by=t.code).cast(KEY_TYPE)})


def keyed_cells(cells: ir.Table) -> ir.Table:
    """The cell registry with integer keys: cid, pid (its place), alt_pid (its border place) and
    kid (its county)."""
    places = _ranked_codes(cells.place_code, "pid")
    counties = _ranked_codes(cells.county_place, "kid")
    c = cells.mutate(cid=ibis.row_number().over(order_by=cells.cell_id).cast(KEY_TYPE))
    c = c.join(places, c.place_code == places.code).drop("code")
    c = c.join(counties, c.county_place == counties.code).drop("code")
    alt = places.select(alt_code="code", alt_pid="pid")
    # A border cell's alternate is always some cell's place, so the join finds it; "" finds none.
    c = c.left_join(alt, c.alt_place == alt.alt_code).drop("alt_code")
    return c.select(
        "cell_id",
        "cid",
        "pid",
        "alt_pid",
        "kid",
        place="place_code",
        county="county_place",
        alt="alt_place",
        lon="lon",
        lat="lat",
        radius_m="radius_m",
    )


def records(events: ir.Table, cells: ir.Table, subscribers: ir.Table) -> ir.Table:
    """events(subscriber, ts_utc_s, cell_id) ⋈ keyed cells ⋈ subscriber keys.

    Columns: sid, ts_utc_s, cid, place (prefecture-level code or country), pid, county (county
    code or country), alt (the other place a border cell overlaps, "" if none), alt_pid, lon, lat,
    radius_m.
    """
    e = events.select("subscriber", "ts_utc_s", "cell_id")
    e = e.join(subscribers, "subscriber").drop("subscriber")
    return e.join(cells, "cell_id").drop("cell_id")


def record_keys(events: ir.Table, run_keys: ir.Table, subscribers: ir.Table) -> ir.Table:
    """The records as the one sort of the engine needs them: integers only.

    Columns: sid, ts_utc_s, cid, run_key (``run_keys``: cell_id, cid, run_key). What the cells
    say about places is joined back by ``cid`` (``with_places``) on the few records where runs
    start or end, so the sort moves narrow rows.
    """
    e = events.select("subscriber", "ts_utc_s", "cell_id")
    e = e.join(subscribers, "subscriber").drop("subscriber")
    return e.join(run_keys, "cell_id").drop("cell_id")


def with_places(recs: ir.Table, cells: ir.Table) -> ir.Table:
    """``recs`` (with ``cid``) plus their cells' place keys: pid, alt_pid, kid."""
    return recs.join(cells.select("cid", "pid", "alt_pid", "kid"), "cid")


def place_codes(cells: ir.Table) -> ir.Table:
    """(pid, code): the place code of each place key of the keyed registry."""
    return cells.select("pid", code="place").distinct()


def county_codes(cells: ir.Table) -> ir.Table:
    """(kid, code): the county code of each county key of the keyed registry."""
    return cells.select("kid", code="county").distinct()
