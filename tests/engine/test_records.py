"""Subscriber numbering: exact ranks in pseudonym order, however the pseudonyms are spread."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from episignal.engine.backend import duckdb_connection
from episignal.engine.io import from_arrow, kept_tables
from episignal.engine.records import BUCKET_CHARS, subscriber_keys

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
