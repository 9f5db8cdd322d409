"""Integer keys: subscribers numbered by rank in pseudonym order, however the pseudonyms are
spread; cells keyed so that masks of the key tell places, counties and border sides apart."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from episignal.engine.backend import duckdb_connection
from episignal.engine.io import from_arrow, kept_tables
from episignal.engine.records import BUCKET_CHARS, CellKeys, keyed_cells, subscriber_keys

# Few characters, so that values share their bucket prefix, are shorter than it or are prefixes
# of one another; and some beyond ASCII, whose UTF-8 bytes must order them as code points do.
text = st.text(alphabet="0a1bé中\U0001f600", min_size=0, max_size=BUCKET_CHARS + 3)


@settings(max_examples=60, deadline=None)
@given(subscribers=st.lists(text, min_size=1, max_size=60))
def test_each_subscriber_is_numbered_by_its_rank_among_all(subscribers: list[str]) -> None:
    con = duckdb_connection()
    events = from_arrow(con, pa.table({"subscriber": pa.array(subscribers, pa.string())}))
    with kept_tables(con) as keep:
        keys = con.to_pyarrow(subscriber_keys(con, events, keep)).to_pylist()
    expected = {s: rank for rank, s in enumerate(sorted(set(subscribers)))}
    assert {r["subscriber"]: r["sid"] for r in keys} == expected
    assert len(keys) == len(expected)  # one key per subscriber, each once


# A registry: each county lies in one place (drawn from a few); each cell is in a county, on no
# border (-1) or on the border with the place of some county. Every county has a cell off the
# border, so every border place is some cell's place, as ingest guarantees.
registries = st.lists(st.integers(0, 4), min_size=1, max_size=8).flatmap(
    lambda county_place: st.lists(
        st.tuples(st.integers(0, len(county_place) - 1), st.integers(-1, len(county_place) - 1)),
        max_size=40,
    ).map(lambda cells: (county_place, [(c, -1) for c in range(len(county_place))] + cells))
)


@settings(max_examples=60, deadline=None)
@given(registry=registries)
def test_cell_keys_are_equal_under_a_levels_mask_exactly_when_the_level_is(registry) -> None:
    county_place, cells = registry
    rows = {
        "cell_id": [f"46000-{i}" for i in range(len(cells))],
        "place_code": [f"P{county_place[c]}" for c, _ in cells],
        "county_place": [f"C{c}" for c, _ in cells],
        "alt_place": ["" if alt < 0 else f"P{county_place[alt]}" for _, alt in cells],
        "lon": [0.0] * len(cells),
        "lat": [0.0] * len(cells),
        "radius_m": [1000.0] * len(cells),
    }
    con = duckdb_connection()
    keyed = keyed_cells(from_arrow(con, pa.table(rows)))
    keys = CellKeys.of(con, keyed)
    got = con.to_pyarrow(keys.with_cid(keyed)).to_pylist()
    assert sorted(r["cell_id"] for r in got) == sorted(rows["cell_id"])
    assert len({r["cid"] for r in got}) == len(got)  # one key per cell
    assert all(0 <= r["cid"] < 1 << keys.bits for r in got)
    same = {
        "span": lambda a, b: a["place"] == b["place"],
        "place": lambda a, b: (a["place"], a["alt"]) == (b["place"], b["alt"]),
        "county": lambda a, b: a["county"] == b["county"],
        "any": lambda a, b: (
            (a["place"], a["alt"], a["county"]) == (b["place"], b["alt"], b["county"])
        ),
    }
    for level, equal in same.items():
        mask = keys.mask(level)
        for a in got:
            for b in got:
                assert ((a["cid"] & mask) == (b["cid"] & mask)) == equal(a, b), (level, a, b)
