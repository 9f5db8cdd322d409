"""Pseudonyms of many numbers at once are the contract's pseudonyms, one by one."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from episignal.privacy.pseudonym import pseudonymise, pseudonymise_all

_DIGITS = st.text(alphabet="0123456789", min_size=8, max_size=15)


@given(st.lists(_DIGITS, max_size=20), st.binary(min_size=1, max_size=100))
def test_many_at_once_are_each_the_contract_pseudonym(numbers: list[str], key: bytes) -> None:
    expected = [hmac.new(key, n.encode(), hashlib.sha256).hexdigest()[:32] for n in numbers]
    assert pseudonymise_all(numbers, key) == expected
    assert [pseudonymise(n, key) for n in numbers] == expected
