"""QR tokens: a verifier accepts a fresh genuine card and refuses altered or stale ones."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .helpers import ALICE, Env, publish_fixture


def _card(env: Env) -> dict:  # type: ignore[type-arg]
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    return env.client.get("/api/card").json()  # type: ignore[no-any-return]


def test_fresh_token_is_valid_and_shows_what_the_card_shows(env: Env) -> None:
    card = _card(env)
    r = env.client.post("/api/verify", json={"token": card["qr_token"]}).json()
    assert r["valid"] is True and r["reason"] is None and r["reason_code"] is None
    assert 0 <= r["age_seconds"] < 30
    assert r["card"]["masked_msisdn"] == "138****8000" and r["card"]["colour"] == "green"
    assert [p["name"] for p in r["card"]["places"]] == ["湖北省武汉市", "北京市"]
    assert r["card"]["policy_version"] == "2020.1"


def test_altered_token_is_refused_as_altered(env: Env) -> None:
    token = _card(env)["qr_token"]
    header, payload, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["c"] = "green" if claims["c"] != "green" else "red"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    r = env.client.post("/api/verify", json={"token": f"{header}.{forged}.{sig}"}).json()
    assert r["valid"] is False and "altered" in r["reason"] and r["card"] is None
    assert r["reason_code"] == "altered"


def test_stale_token_is_refused_with_its_age(env: Env) -> None:
    _card(env)
    services = env.client.app.state.services  # type: ignore[attr-defined]
    then = datetime.now(UTC) - timedelta(minutes=30)
    claims = {
        "m": "138****8000",
        "c": "green",
        "p": [],
        "k": [],
        "d": None,
        "w": 14,
        "pv": "2020.1",
        "iat": int(then.timestamp()),
        "exp": int((then + timedelta(minutes=5)).timestamp()),
    }
    r = env.client.post("/api/verify", json={"token": services.signer.sign(claims)}).json()
    assert r["valid"] is False and r["reason"].startswith("expired")
    assert r["reason_code"] == "expired"
    assert 1790 < r["age_seconds"] < 1900


def test_token_signed_by_another_key_is_refused(env: Env) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    other = Ed25519PrivateKey.generate()
    now = int(datetime.now(UTC).timestamp())
    token = jwt.encode(
        {"m": "x", "iat": now, "exp": now + 60}, other, algorithm="EdDSA", headers={"kid": "bogus"}
    )
    r = env.client.post("/api/verify", json={"token": token}).json()
    assert r["valid"] is False and "unknown key" in r["reason"]


def test_garbage_is_refused_as_malformed_not_an_error(env: Env) -> None:
    for token in ("x", "a.b.c", "....", "eyJ0eXAiOiJKV1QifQ.e30."):
        r = env.client.post("/api/verify", json={"token": token})
        assert r.status_code == 200 and r.json()["valid"] is False


def test_published_key_verifies_the_token_offline(env: Env) -> None:
    token = _card(env)["qr_token"]
    jwk = env.client.get("/.well-known/episignal-card-key").json()["keys"][0]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519"
    raw = base64.urlsafe_b64decode(jwk["x"] + "==")
    claims = jwt.decode(token, Ed25519PublicKey.from_public_bytes(raw), algorithms=["EdDSA"])
    assert claims["m"] == "138****8000"


def test_qr_code_is_an_svg_of_the_token(env: Env) -> None:
    token = _card(env)["qr_token"]
    r = env.client.post("/api/qr", json={"token": token})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert r.text.startswith("<svg")
    assert env.client.post("/api/qr", json={"token": "nope"}).status_code == 400
