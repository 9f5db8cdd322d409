"""The card as a subscriber sees it through the JSON API, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from episignal.store import schema

from .helpers import ALICE, BOB, CAROL, WUHAN, Env, publish_fixture


def test_card_shows_masked_number_places_in_visit_order_and_green(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    card = env.client.get("/api/card").json()
    assert card["masked_msisdn"] == "138****8000"
    assert [p["name"] for p in card["places"]] == ["湖北省武汉市", "北京市"]
    assert [p["code"] for p in card["places"]] == ["420100", "110000"]
    assert card["places"][0]["name_en"].startswith("Wuhan")
    assert card["colour"] == "green" and card["has_data"] is True
    assert card["window_days"] == 14 and card["policy_version"] == "2020.1"
    assert card["updated_at"] and card["data_date"] == "2020-01-20"
    assert card["qr_token"].count(".") == 2


def test_stay_abroad_lists_the_country_and_turns_the_card_yellow(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(BOB)
    card = env.client.get("/api/card").json()
    assert [c["name"] for c in card["countries"]] == ["日本"]
    assert [c["code"] for c in card["countries"]] == ["JP"]
    assert [p["name"] for p in card["places"]] == ["上海市"]
    assert card["colour"] == "yellow"


def test_number_without_itinerary_gets_the_no_data_card(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(CAROL)
    card = env.client.get("/api/card").json()
    assert card["has_data"] is False and card["places"] == [] and card["countries"] == []
    assert card["masked_msisdn"] == "137****7000"


def test_card_without_session_is_refused_with_a_message(env: Env) -> None:
    r = env.client.get("/api/card")
    assert r.status_code == 401 and "SMS code" in r.json()["detail"]


def test_tampered_session_cookie_is_not_a_session(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    cookie = env.client.cookies.get("es_session")
    assert cookie
    payload, mac = cookie.split(".")
    env.client.cookies.set("es_session", payload[:-2] + "AA." + mac)
    assert env.client.get("/api/card").status_code == 401


def test_every_card_view_is_audited_without_the_number(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    for _ in range(3):
        assert env.client.get("/api/card").status_code == 200
    with env.store.read() as conn:
        views = conn.execute(
            select(schema.audit_log).where(schema.audit_log.c.event == "card_view")
        ).all()
    assert len(views) == 3
    assert all(ALICE not in (v.detail + (v.subject or "")) for v in views)
    assert all(len(v.subject) == 32 for v in views)


def test_publishing_twice_is_harmless_and_a_new_day_replaces_the_old(env: Env) -> None:
    first = publish_fixture(env.store, env.data_dir)
    again = publish_fixture(env.store, env.data_dir)
    assert again.unchanged and again.publication_id == first.publication_id
    rows = [(ALICE, WUHAN, "湖北省武汉市", "city", "2020-01-16T01:00:00", "2020-01-18T10:00:00")]
    second = publish_fixture(env.store, env.data_dir, rows=rows, day="2020-01-21")
    assert second.publication_id != first.publication_id and not second.unchanged
    env.sign_in(ALICE)
    card = env.client.get("/api/card").json()
    assert [p["name"] for p in card["places"]] == ["湖北省武汉市"]
    assert card["data_date"] == "2020-01-21"
    third = publish_fixture(env.store, env.data_dir, day="2020-01-22")
    with env.store.read() as conn:
        pubs = conn.execute(select(schema.publication.c.id)).scalars().all()
        orphan_rows = conn.execute(
            select(func.count())
            .select_from(schema.itinerary_place)
            .where(schema.itinerary_place.c.publication_id.not_in(pubs))
        ).scalar()
    assert sorted(pubs) == [second.publication_id, third.publication_id]  # live + previous
    assert orphan_rows == 0


def test_card_token_expiry_follows_the_configured_minutes(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    card = env.client.get("/api/card").json()
    expires = datetime.fromisoformat(card["qr_expires_at"])
    assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)


def test_republishing_the_same_rows_with_new_metadata_is_still_a_no_op(env: Env) -> None:
    from datetime import date

    from episignal.store.publish import load_itineraries

    from .helpers import FIXTURE_ROWS, itinerary_table

    table = itinerary_table(env.data_dir, FIXTURE_ROWS)
    kwargs = {
        "data_date": date(2020, 1, 20),
        "window_days": 14,
        "min_stay_hours": 4.0,
        "policy_version": "2020.1",
    }
    first = load_itineraries(
        env.store, table.replace_schema_metadata({"computed_at": "1"}), **kwargs
    )
    again = load_itineraries(
        env.store, table.replace_schema_metadata({"computed_at": "2"}), **kwargs
    )
    assert again.unchanged and again.publication_id == first.publication_id
