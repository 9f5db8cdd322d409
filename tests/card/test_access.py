"""Getting to the card: SMS code, limits, consent, session cookie, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from episignal.card.access import OTP_MAX_ATTEMPTS, AccessDenied
from episignal.store import schema

from .helpers import ALICE, BOB, Env, publish_fixture


def _ask_code(env: Env, number: str, headers: dict[str, str]) -> int:
    return env.client.post("/api/otp", json={"msisdn": number}, headers=headers).status_code


def test_code_is_six_digits_sent_by_sms_to_the_number(env: Env) -> None:
    headers = env.csrf_headers()
    assert _ask_code(env, ALICE, headers) == 202
    sms = env.outbox()[-1]
    assert sms["to"] == "+86" + ALICE
    digits = "".join(ch for ch in sms["text"] if ch.isdigit())
    assert len(digits) == 7 and digits.endswith("5")  # 6-digit code, then "5分钟"


def test_second_code_within_a_minute_is_refused_with_retry_after(env: Env) -> None:
    headers = env.csrf_headers()
    assert _ask_code(env, ALICE, headers) == 202
    r = env.client.post("/api/otp", json={"msisdn": ALICE}, headers=headers)
    assert r.status_code == 429 and int(r.headers["retry-after"]) <= 60
    assert "wait" in r.json()["detail"]


def test_wrong_codes_are_limited_and_the_right_one_then_fails(env: Env) -> None:
    headers = env.csrf_headers()
    _ask_code(env, ALICE, headers)
    code = "".join(ch for ch in env.last_sms_to(ALICE) if ch.isdigit())[:6]
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    version = env.client.get("/api/consent").json()["version"]
    body = {"msisdn": ALICE, "code": wrong, "consent_version": version}
    for _ in range(OTP_MAX_ATTEMPTS):
        r = env.client.post("/api/session", json=body, headers=headers)
        assert r.status_code == 400 and "wrong code" in r.json()["detail"]
    r = env.client.post("/api/session", json={**body, "code": code}, headers=headers)
    assert r.status_code == 429 and "request a new one" in r.json()["detail"]


def test_code_expires_after_five_minutes(env: Env) -> None:
    app_services = env.client.app.state.services  # type: ignore[attr-defined]
    subscriber = app_services.pseudonymiser(ALICE)
    now = datetime.now(UTC)
    code = app_services.otp.issue(subscriber, "198.51.100.7", now)
    with pytest.raises(AccessDenied, match="expired"):
        app_services.otp.check(subscriber, code, now + timedelta(minutes=5, seconds=1))


def test_code_works_once(env: Env) -> None:
    services = env.client.app.state.services  # type: ignore[attr-defined]
    subscriber = services.pseudonymiser(ALICE)
    now = datetime.now(UTC)
    code = services.otp.issue(subscriber, "198.51.100.7", now)
    services.otp.check(subscriber, code, now)
    with pytest.raises(AccessDenied):
        services.otp.check(subscriber, code, now)


def test_one_client_address_cannot_request_codes_for_many_numbers(env: Env) -> None:
    services = env.client.app.state.services  # type: ignore[attr-defined]
    limit = env.settings.otp_per_client_per_hour
    now = datetime.now(UTC)
    for i in range(limit):
        services.otp.issue(f"{i:032x}", "203.0.113.9", now)
    with pytest.raises(AccessDenied) as refused:
        services.otp.issue(f"{limit:032x}", "203.0.113.9", now)
    assert refused.value.status == 429


def test_hourly_code_limit_per_number(env: Env) -> None:
    services = env.client.app.state.services  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    for i in range(5):
        services.otp.issue("a" * 32, f"192.0.2.{i}", now + timedelta(minutes=2 * i))
    with pytest.raises(AccessDenied, match="too many codes"):
        services.otp.issue("a" * 32, "192.0.2.99", now + timedelta(minutes=11))


def test_session_needs_the_consent_text_in_force_and_records_it(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    consent = env.client.get("/api/consent").json()
    assert consent["zh"] == "同意并授权运营商查询本人在疫情期间前14天内到访地信息"
    headers = env.csrf_headers()
    _ask_code(env, ALICE, headers)
    code = "".join(ch for ch in env.last_sms_to(ALICE) if ch.isdigit())[:6]
    r = env.client.post(
        "/api/session",
        headers=headers,
        json={"msisdn": ALICE, "code": code, "consent_version": "1999.1"},
    )
    assert r.status_code == 409 and consent["version"] in r.json()["detail"]
    r = env.client.post(
        "/api/session",
        headers=headers,
        json={"msisdn": ALICE, "code": code, "consent_version": consent["version"]},
    )
    assert r.status_code == 200 and r.json()["masked_msisdn"] == "138****8000"
    with env.store.read() as conn:
        rows = conn.execute(select(schema.consent)).all()
    assert [(r.consent_version, r.channel) for r in rows] == [(consent["version"], "web")]
    assert abs((rows[0].given_at - datetime.now(UTC)).total_seconds()) < 60


def test_session_cookie_is_http_only_strict_and_secure_by_default(env: Env) -> None:
    env.sign_in(BOB)
    # The fixture turns Secure off (plain-HTTP test client); the default is on:
    from episignal.config import Settings

    assert Settings().cookie_secure is True
    # and the Set-Cookie the app sends carries the other attributes:
    headers = env.csrf_headers()
    env.client.cookies.clear()
    env.client.get("/api/csrf")
    services = env.client.app.state.services  # type: ignore[attr-defined]
    code = services.otp.issue(services.pseudonymiser(ALICE), "192.0.2.1", datetime.now(UTC))
    version = env.client.get("/api/consent").json()["version"]
    headers = {"X-CSRF-Token": env.client.cookies["es_csrf"]}
    r = env.client.post(
        "/api/session",
        headers=headers,
        json={"msisdn": ALICE, "code": code, "consent_version": version},
    )
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "max-age=" in cookie


def test_form_posts_without_the_csrf_token_are_refused(env: Env) -> None:
    r = env.client.post("/api/otp", json={"msisdn": ALICE})
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    token = env.client.get("/api/csrf").json()["token"]
    r = env.client.post(
        "/api/otp",
        json={"msisdn": ALICE},
        headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
    )
    assert r.status_code == 403 and "cross-site" in r.json()["detail"]
    assert not env.outbox()


def test_malformed_number_is_a_400_that_does_not_echo_the_input(env: Env) -> None:
    r = env.client.post("/api/otp", json={"msisdn": "+8612345678901"}, headers=env.csrf_headers())
    assert r.status_code == 400
    assert "+8612345678901" not in r.text
    r = env.client.post(
        "/api/otp", json={"msisdn": "call me 13800138000"}, headers=env.csrf_headers()
    )
    assert r.status_code == 422 and "13800138000" not in r.text


def test_signed_in_subscriber_stays_signed_in_without_a_new_code(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    sent = len(env.outbox())
    for _ in range(3):
        assert env.client.get("/api/card").status_code == 200
    assert len(env.outbox()) == sent


def test_logout_ends_the_session(env: Env) -> None:
    env.sign_in(ALICE)
    r = env.client.post("/api/logout", headers=env.csrf_headers())
    assert r.status_code == 204
    assert env.client.get("/api/card").status_code == 401
