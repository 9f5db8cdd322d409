"""The SQL number normaliser used at ingest agrees with the Python one used by the services."""

from __future__ import annotations

import ibis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from episignal.ingest.formats import e164_digits
from episignal.privacy.pseudonym import InvalidNumber, mask_msisdn, normalise_msisdn


def _one_off(s: str, i: int, c: str) -> str:
    return s[:i] + c + s[i + 1 :]


numbers = st.one_of(
    st.from_regex(r"(\+|00)?(86)?1[3-9][0-9]{9}", fullmatch=True),
    st.from_regex(r"\+?[0-9 ()\-]{0,18}", fullmatch=True),
    # one character off the forms the GLOB fast paths take ("+86…" and national)
    st.builds(
        _one_off,
        st.from_regex(r"(\+86)?1[3-9][0-9]{9}", fullmatch=True),
        st.integers(0, 13),
        st.sampled_from("0123456789+ -x١１"),  # and digits of other scripts (Arabic, full-width)
    ),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(numbers, min_size=1, max_size=40))
def test_sql_and_python_normalisation_agree(raws: list[str]) -> None:
    con = ibis.duckdb.connect()
    t = ibis.memtable({"raw": raws})
    got = con.to_pyarrow(t.select(e=e164_digits(t.raw)))["e"].to_pylist()
    for raw, sql in zip(raws, got, strict=True):
        try:
            py: str | None = normalise_msisdn(raw)
        except InvalidNumber:
            py = None
        assert sql == py, raw


def test_masked_number_shows_only_prefix_and_last_four() -> None:
    assert mask_msisdn("8613800138000") == "138****8000"


@pytest.mark.parametrize("raw", ["+86138001380\u06630", "\uff11\uff13\uff18" + "\uff10" * 8])
def test_digits_of_other_scripts_are_not_a_number(raw: str) -> None:
    with pytest.raises(InvalidNumber):  # else a pseudonym of other bytes, or an encoding error
        normalise_msisdn(raw)
