"""From a positive test to a notification on another phone, through the real services."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from episignal.exposure.keyserver.app import create_keyserver_app
from episignal.exposure.keyserver.exports import run_exports
from episignal.exposure.keyserver.protocol import PUBLISH_BODY_BYTES, PUBLISH_RESPONSE_BYTES
from episignal.exposure.phone import Phone
from episignal.exposure.risk import LOCAL_TZ
from episignal.exposure.verification import create_verification_app, issuer_api_key

DAY = 86_400


@pytest.fixture()
def services(tmp_path: Path):
    data = tmp_path / "data"
    verification = TestClient(create_verification_app(data))
    keyserver = TestClient(create_keyserver_app(data))
    return data, verification, keyserver


def _meet(a: Phone, b: Phone, start: float, minutes: int, rssi: int = -55) -> None:
    """``b`` hears ``a`` at every 5-minute scan for ``minutes``."""
    for t in range(int(start), int(start) + minutes * 60, 300):
        b.record_scan(a.advertisement(t), rssi, t)


def test_a_positive_case_shares_keys_and_a_close_contact_is_notified(services, tmp_path) -> None:
    data, verification, keyserver = services
    now = time.time()
    alice, bob, carol = (Phone(tmp_path / n) for n in ("alice", "bob", "carol"))
    _meet(alice, bob, now - 3 * DAY, minutes=40)  # close and long: notified
    _meet(alice, carol, now - 3 * DAY, minutes=5, rssi=-90)  # brief and far: not notified
    alice.advertisement(now)  # today's key exists too

    issued = verification.post(
        "/api/issue",
        headers={"X-API-Key": issuer_api_key(data)},
        json={"test_type": "confirmed", "phone": "+8613800138000"},
    )
    assert issued.status_code == 200, issued.text
    sms = [json.loads(line) for line in (data / "sms-outbox.jsonl").read_text().splitlines()]
    assert issued.json()["long_code"] in sms[-1]["text"]

    reply = alice.share_keys(
        code=issued.json()["short_code"], verification=verification, keyserver=keyserver,
        now_unix=now,
    )  # fmt: skip
    shared = len(alice.schedule.keys_to_share(now))
    assert shared >= 2  # the meeting day's key and today's
    assert reply["insertedExposures"] == shared
    assert reply["keyErrors"] == []

    # today's key is held back until it expires; batches are built once their window has ended
    run_exports(data, int(now + 2 * DAY))
    public_pem = keyserver.get("/v1/public-key.pem").text.encode()
    for phone, expected in ((bob, True), (carol, False)):
        keys = phone.download_keys(keyserver, public_pem)
        assert len(keys) >= 1000  # padded with fake keys
        note = phone.check_exposure(keys)
        assert (note is not None) == expected
        if note is not None:
            meeting_day = datetime.fromtimestamp(now - 3 * DAY, LOCAL_TZ).date()
            assert note.exposure_date in (meeting_day, meeting_day + timedelta(days=1))
            assert "核酸检测" in note.advice_zh
    # files already processed are not downloaded again
    assert bob.download_keys(keyserver, public_pem) == []


def test_a_code_works_once(services, tmp_path) -> None:
    data, verification, keyserver = services
    phone = Phone(tmp_path / "p")
    phone.advertisement(time.time())
    code = verification.post(
        "/api/issue", headers={"X-API-Key": issuer_api_key(data)}, json={"test_type": "likely"}
    ).json()["short_code"]
    phone.share_keys(
        code=code, verification=verification, keyserver=keyserver, now_unix=time.time()
    )
    again = verification.post("/api/verify", json={"code": code})
    assert again.status_code == 400
    assert "already been used" in again.json()["detail"]


def test_chaff_and_real_uploads_look_the_same_on_the_wire(services, tmp_path) -> None:
    data, verification, keyserver = services
    from episignal.exposure.keyserver import protocol

    before = keyserver.app.state.store.count()
    chaff_body = protocol.chaff_publish_body()
    resp = keyserver.post("/v1/publish", content=chaff_body, headers={"X-Chaff": "1"})
    assert len(chaff_body) == PUBLISH_BODY_BYTES
    assert resp.status_code == 200
    assert len(resp.content) == PUBLISH_RESPONSE_BYTES
    assert keyserver.app.state.store.count() == before

    phone = Phone(tmp_path / "p")
    phone.advertisement(time.time())
    code = verification.post(
        "/api/issue", headers={"X-API-Key": issuer_api_key(data)}, json={"test_type": "confirmed"}
    ).json()["long_code"]
    real = phone.share_keys(
        code=code, verification=verification, keyserver=keyserver, now_unix=time.time()
    )
    assert real["insertedExposures"] == 1
    assert keyserver.app.state.store.count() == before + 1
