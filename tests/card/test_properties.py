"""Property tests of the pieces every card view relies on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from episignal.card.access import SessionCodec
from episignal.card.policy import load_policy
from episignal.card.token import CardSigner
from episignal.store.audit import row_hash

KEY = b"k" * 32
NOW = datetime(2020, 1, 20, 8, tzinfo=UTC)


@given(st.integers(min_value=0), st.binary(min_size=1, max_size=4))
def test_any_change_to_a_session_cookie_voids_it(position: int, noise: bytes) -> None:
    codec = SessionCodec(KEY, timedelta(days=7))
    cookie, session = codec.issue("a" * 32, "138****8000", NOW)
    assert codec.read(cookie, NOW) == session
    i = position % len(cookie)
    changed = cookie[:i] + noise.hex() + cookie[i + 1 :]
    if changed != cookie:
        assert codec.read(changed, NOW) is None


def test_session_cookie_expires() -> None:
    codec = SessionCodec(KEY, timedelta(days=7))
    cookie, _ = codec.issue("a" * 32, "138****8000", NOW)
    assert codec.read(cookie, NOW + timedelta(days=7, seconds=1)) is None


@given(
    st.lists(
        st.tuples(st.text(max_size=12), st.sampled_from(["420100", "110000"]), st.booleans()),
        max_size=6,
    ),
    st.sampled_from(["green", "yellow", "orange", "red"]),
)
def test_any_signed_card_verifies_until_it_expires(places: list, colour: str) -> None:  # type: ignore[type-arg]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    signer = CardSigner(Ed25519PrivateKey.generate(), timedelta(minutes=5))
    claims = {
        "m": "138****8000",
        "c": colour,
        "p": [list(p) for p in places],
        "k": [],
        "d": "2020-01-20",
        "w": 14,
        "pv": "2020.1",
        "iat": int(NOW.timestamp()),
        "exp": int((NOW + timedelta(minutes=5)).timestamp()),
    }
    token = signer.sign(claims)
    ok = signer.verify(token, NOW + timedelta(minutes=4))
    assert ok.valid and ok.claims is not None and ok.claims["p"] == claims["p"]
    assert not signer.verify(token, NOW + timedelta(minutes=5)).valid


@given(st.text(max_size=20), st.text(max_size=20))
def test_audit_hash_depends_on_every_field(a: str, b: str) -> None:
    base = row_hash("0" * 64, 1, "2020-01-20T00:00:00+00:00", "card_view", "web", None, a)
    other = row_hash("0" * 64, 1, "2020-01-20T00:00:00+00:00", "card_view", "web", None, b)
    assert (base == other) == (a == b)
    assert base != row_hash("0" * 64, 2, "2020-01-20T00:00:00+00:00", "card_view", "web", None, a)


@given(st.dates(min_value=datetime(2019, 1, 1).date(), max_value=datetime(2023, 12, 31).date()))
def test_exactly_one_policy_version_is_in_force_on_any_day(day) -> None:  # type: ignore[no-untyped-def]
    policy = load_policy()
    version = policy.in_force(day)
    later = [v for v in policy.version if v.effective_from <= day]
    assert version == (later[-1] if later else policy.version[0])
