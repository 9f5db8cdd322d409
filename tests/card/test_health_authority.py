"""The health authority's API: close contacts, cases and risk areas change cards at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from episignal.card.timefmt import LOCAL_TZ
from episignal.store import schema

from .helpers import ALICE, BOB, Env, publish_fixture


def _today() -> str:
    return datetime.now(UTC).astimezone(LOCAL_TZ).date().isoformat()


def test_close_contact_turns_the_card_orange_sends_an_sms_and_is_audited(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    assert env.client.get("/api/card").json()["colour"] == "green"
    r = env.client.post(
        "/api/close-contacts",
        headers=env.token("en-server", "close-contact:write"),
        json={
            "msisdn": "+86" + ALICE,
            "source": "exposure_notification",
            "exposure_date": _today(),
            "consent": True,
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["colour"] == "orange" and r.json()["sms_sent"] is True
    assert "橙色" in env.last_sms_to(ALICE) and "核酸检测" in env.last_sms_to(ALICE)
    assert env.client.get("/api/card").json()["colour"] == "orange"
    with env.store.read() as conn:
        rows = conn.execute(
            select(schema.audit_log).where(schema.audit_log.c.event == "close_contact")
        ).all()
    assert len(rows) == 1 and rows[0].actor == "en-server" and ALICE not in rows[0].detail


def test_close_contact_flag_lasts_the_policy_period_only(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    old = (datetime.now(UTC).astimezone(LOCAL_TZ).date() - timedelta(days=20)).isoformat()
    r = env.client.post(
        "/api/close-contacts",
        headers=env.token("screening", "close-contact:write"),
        json={
            "msisdn": ALICE,
            "source": "contact_screening",
            "exposure_date": old,
            "consent": True,
        },
    )
    assert r.status_code == 201 and r.json()["sms_sent"] is False
    env.sign_in(ALICE)
    assert env.client.get("/api/card").json()["colour"] == "green"


def test_close_contact_api_needs_a_token_with_its_scope(env: Env) -> None:
    body = {
        "msisdn": ALICE,
        "source": "contact_screening",
        "exposure_date": _today(),
        "consent": True,
    }
    r = env.client.post("/api/close-contacts", json=body)
    assert r.status_code == 401 and "bearer" in r.headers["www-authenticate"].lower()
    r = env.client.post(
        "/api/close-contacts", json=body, headers={"Authorization": "Bearer es_not-a-token"}
    )
    assert r.status_code == 401
    r = env.client.post("/api/close-contacts", json=body, headers=env.token("x", "case:write"))
    assert r.status_code == 403 and "close-contact:write" in r.json()["detail"]


def test_close_contact_without_consent_or_with_a_future_date_is_refused(env: Env) -> None:
    headers = env.token("en", "close-contact:write")
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    for body in (
        {
            "msisdn": ALICE,
            "source": "contact_screening",
            "exposure_date": _today(),
            "consent": False,
        },
        {"msisdn": ALICE, "source": "contact_screening", "exposure_date": future, "consent": True},
        {"msisdn": ALICE, "source": "gossip", "exposure_date": _today(), "consent": True},
    ):
        r = env.client.post("/api/close-contacts", json=body, headers=headers)
        assert r.status_code == 422 and r.json()["detail"]


def test_confirmed_case_is_red_until_cleared(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    headers = env.token("wuhan-cdc", "case:write")
    env.sign_in(BOB)
    assert env.client.get("/api/card").json()["colour"] == "yellow"  # Japan
    r = env.client.post("/api/cases", json={"msisdn": BOB, "status": "confirmed"}, headers=headers)
    assert r.status_code == 201
    assert env.client.get("/api/card").json()["colour"] == "red"
    env.client.post("/api/cases", json={"msisdn": BOB, "status": "cleared"}, headers=headers)
    assert env.client.get("/api/card").json()["colour"] == "yellow"


def test_declared_county_stars_its_city_at_once_and_lifting_it_removes_the_star(
    env: Env,
) -> None:
    publish_fixture(env.store, env.data_dir)  # policy 2020.1: marker = red font
    env.sign_in(ALICE)
    assert not env.client.get("/api/card").json()["places"][0]["star"]
    headers = env.token("hubei-hc", "risk-area:write")
    r = env.client.post(
        "/api/risk-areas",
        headers=headers,
        json={
            "code": "420106",
            "level": "medium",  # 武昌区 → 武汉市
            "starts_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["city_code"] == "420100" and r.json()["name"] == "湖北省武汉市武昌区"
    places = env.client.get("/api/card").json()["places"]
    assert [p["star"] for p in places] == [True, False]
    public = env.client.get("/api/risk-areas").json()
    assert [a["code"] for a in public] == ["420106"]
    r = env.client.delete(f"/api/risk-areas/{r.json()['id']}", headers=headers)
    assert r.status_code == 204
    assert [p["star"] for p in env.client.get("/api/card").json()["places"]] == [False, False]


def test_stay_during_a_high_risk_period_turns_the_card_yellow(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    headers = env.token("hubei-hc", "risk-area:write")
    # High risk in Wuhan while Alice was there (Jan 15–18 2020), lifted afterwards.
    r = env.client.post(
        "/api/risk-areas",
        headers=headers,
        json={
            "code": "420100",
            "level": "high",
            "starts_at": "2020-01-17T00:00:00+08:00",
            "ends_at": "2020-04-08T00:00:00+08:00",
        },
    )
    assert r.status_code == 201
    card = env.client.get("/api/card").json()
    assert card["colour"] == "yellow"
    assert card["places"][0]["star"] is False  # not a risk area *now*


def test_unknown_division_code_is_a_422_with_the_reason(env: Env) -> None:
    r = env.client.post(
        "/api/risk-areas",
        headers=env.token("hc", "risk-area:write"),
        json={"code": "999999", "level": "high", "starts_at": "2020-01-17T00:00:00+08:00"},
    )
    assert r.status_code == 422 and "999999" in r.json()["detail"]
