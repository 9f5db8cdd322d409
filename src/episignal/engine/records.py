"""Events joined with the cell registry: each record gets its places, under integer keys.

Windows partition and sort on every record, so their keys are integers: ``sid`` (the rank of the
subscriber's pseudonym among the day's subscribers), ``pid`` (the rank of the place code), ``kid``
(the rank of the county code) and ``cid``, the cell's key, which holds its place, county and
border place as bit fields (``CellKeys``): comparing two records' cells under a mask tells whether
they are at one place, in one county, on one side of a border, so the one sort of the records
carries no key but the cell's. Ranks are assigned by ordering the codes, so both backends derive
the same keys, and they are exact (no hashing, no collisions). Places and counties stay integers
through every window after the sort too (a window moves each row's every column, and a string is
twice an integer's width); their codes are joined back onto the few output rows
(``place_codes``, ``county_codes``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

from episignal.engine.io import from_arrow, to_arrow

# Subscriber, place and county ranks are 32-bit: the one sort of the records compares and moves
# narrower keys (a quarter less work than with 64-bit ones), and two billion is plenty. A cell's
# key is 64-bit: it holds bit fields (``CellKeys``).
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
    """The cell registry with integer keys: pid (its place), alt_pid (its border place), kid (its
    county), and ``CellKeys``' fields, ranks from 0: k_county (the county's rank within the
    place), k_alt (the border place's rank within the place, none before any) and k_cell (the
    cell's rank among the cells sharing all three, by cell id)."""
    places = _ranked_codes(cells.place_code, "pid")
    counties = _ranked_codes(cells.county_place, "kid")
    c = cells.join(places, cells.place_code == places.code).drop("code")
    c = c.join(counties, c.county_place == counties.code).drop("code")
    alt = places.select(alt_code="code", alt_pid="pid")
    # A border cell's alternate is always some cell's place, so the join finds it; "" finds none.
    c = c.left_join(alt, c.alt_place == alt.alt_code).drop("alt_code")
    # Ranks start at 0: -1 stands for "no border place", whatever a backend's order of NULLs.
    alt0 = c.alt_pid.fill_null(-1)
    by_place = ibis.window(group_by=c.pid, order_by=c.kid)
    by_alt = ibis.window(group_by=c.pid, order_by=alt0)
    by_all = ibis.window(group_by=[c.pid, c.kid, alt0], order_by=c.cell_id)
    return c.select(
        "cell_id",
        "pid",
        "alt_pid",
        "kid",
        place="place_code",
        county="county_place",
        alt="alt_place",
        lon="lon",
        lat="lat",
        radius_m="radius_m",
        k_county=ibis.dense_rank().over(by_place).cast("int64"),
        k_alt=ibis.dense_rank().over(by_alt).cast("int64"),
        k_cell=ibis.row_number().over(by_all).cast("int64"),
    )


@dataclass(frozen=True)
class CellKeys:
    """How a cell's key ``cid`` packs its place, county and border place, high bits to low:
    pid, the county's rank within the place, the border place's rank within the place, the cell's
    rank among the cells sharing those. The widths are those the registry needs.

    A county lies in one place, so (pid, county rank) is the county; (pid, border rank) is the
    place and border place of ``stays.LEVEL_KEYS``; pid alone is the place of a day span. Cells
    are ordered by their keys, which is how records in the same second are ordered.
    """

    place_bits: int
    county_bits: int
    alt_bits: int
    cell_bits: int

    @classmethod
    def of(cls, con: ibis.BaseBackend, keyed: ir.Table) -> CellKeys:
        """The widths ``keyed`` (``keyed_cells``) needs."""
        top = to_arrow(
            con,
            keyed.aggregate(
                p=keyed.pid.max().cast("int64"),
                k=keyed.k_county.max(),
                a=keyed.k_alt.max(),
                c=keyed.k_cell.max(),
            ),
        ).to_pylist()[0]
        return cls(*(int(top[f] or 0).bit_length() for f in ("p", "k", "a", "c")))

    @property
    def bits(self) -> int:
        """The width of a cell key."""
        return self.place_bits + self.county_bits + self.alt_bits + self.cell_bits

    def _field(self, name: str) -> int:
        widths = {
            "place": self.place_bits,
            "county": self.county_bits,
            "alt": self.alt_bits,
            "cell": self.cell_bits,
        }
        shift = 0
        for field in reversed(list(widths)):
            if field == name:
                return ((1 << widths[field]) - 1) << shift
            shift += widths[field]
        raise KeyError(name)

    def mask(self, level: str) -> int:
        """The bits of a cell key that are equal for two cells at one ``level``: ``place`` and
        ``county`` (``stays.LEVEL_KEYS``), ``span`` (the place alone), or ``any`` (all three)."""
        fields = {
            "place": ("place", "alt"),
            "county": ("place", "county"),
            "span": ("place",),
            "any": ("place", "county", "alt"),
        }[level]
        mask = 0
        for field in fields:
            mask |= self._field(field)
        return mask

    def with_cid(self, keyed: ir.Table) -> ir.Table:
        """``keyed`` with its cells' keys ``cid`` (int64), its rank fields dropped."""
        cid = (
            (keyed.pid.cast("int64") << (self.county_bits + self.alt_bits + self.cell_bits))
            | (keyed.k_county << (self.alt_bits + self.cell_bits))
            | (keyed.k_alt << self.cell_bits)
            | keyed.k_cell
        )
        return keyed.mutate(cid=cid).drop("k_county", "k_alt", "k_cell")


def records(events: ir.Table, cells: ir.Table, subscribers: ir.Table) -> ir.Table:
    """events(subscriber, ts_utc_s, cell_id) ⋈ keyed cells ⋈ subscriber keys.

    Columns: sid, ts_utc_s, place (prefecture-level code or country), pid, county (county code or
    country), kid, alt (the other place a border cell overlaps, "" if none), alt_pid, lon, lat,
    radius_m.
    """
    e = events.select("subscriber", "ts_utc_s", "cell_id")
    e = e.join(subscribers, "subscriber").drop("subscriber")
    e = e.join(cells, "cell_id")
    return e.select(
        "sid",
        "ts_utc_s",
        "place",
        "pid",
        "county",
        "kid",
        "alt",
        "alt_pid",
        "lon",
        "lat",
        "radius_m",
    )


def record_keys(events: ir.Table, cells: ir.Table, subscribers: ir.Table) -> ir.Table:
    """The records as the one sort of the engine needs them: integers only.

    Columns: sid, ts_utc_s, cid (``cells``: keyed, with ``CellKeys.with_cid``). What the cells
    say about places is joined back by ``cid`` (``with_places``) on the few records where runs
    start or end, so the sort moves narrow rows.
    """
    e = events.select("subscriber", "ts_utc_s", "cell_id")
    e = e.join(subscribers, "subscriber").drop("subscriber")
    return e.join(cells.select("cell_id", "cid"), "cell_id").drop("cell_id")


def with_places(recs: ir.Table, cells: ir.Table) -> ir.Table:
    """``recs`` (with ``cid``) plus their cells' place keys: pid, alt_pid, kid."""
    return recs.join(cells.select("cid", "pid", "alt_pid", "kid"), "cid")


def place_codes(cells: ir.Table) -> ir.Table:
    """(pid, code): the place code of each place key of the keyed registry."""
    return cells.select("pid", code="place").distinct()


def county_codes(cells: ir.Table) -> ir.Table:
    """(kid, code): the county code of each county key of the keyed registry."""
    return cells.select("kid", code="county").distinct()
