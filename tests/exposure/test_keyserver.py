"""Key-server upload rules: limits, certificate binding, per-key errors, export retention."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from episignal.exposure import crypto
from episignal.exposure.keys import TemporaryExposureKey
from episignal.exposure.keyserver.app import create_keyserver_app
from episignal.exposure.keyserver.exports import run_exports
from episignal.exposure.keyserver.protocol import MAX_KEYS_PER_PUBLISH, padded_publish_body
from episignal.exposure.verification import VerificationService, tek_hmac, tek_hmac_legacy

from .conftest import load_reference

HMAC_VECTORS = load_reference()["verification_tekmac_hmac_sha256"]


def _keys(case: dict) -> list[TemporaryExposureKey]:
    return [
        TemporaryExposureKey(
            base64.b64decode(k["key"]), k["rollingStartNumber"], k["rollingPeriod"],
            k["transmissionRisk"],
        )
        for k in case["keys"]
    ]  # fmt: skip


def test_key_hmac_matches_the_published_vector_without_transmission_risk() -> None:
    case = HMAC_VECTORS["cases"][1]
    mac = tek_hmac(_keys(case), bytes.fromhex(HMAC_VECTORS["secret_hex"]))
    assert base64.b64encode(mac).decode() == case["hmacs_b64"][1]


@pytest.mark.parametrize("case", HMAC_VECTORS["cases"], ids=["risk_3_and_5", "risk_0"])
def test_legacy_key_hmac_with_transmission_risk_matches_the_published_vector(case: dict) -> None:
    mac = tek_hmac_legacy(_keys(case), bytes.fromhex(HMAC_VECTORS["secret_hex"]))
    assert base64.b64encode(mac).decode() == case["hmacs_b64"][0]


@pytest.fixture()
def server(tmp_path: Path):
    data = tmp_path / "data"
    verification = VerificationService(data)
    return data, verification, TestClient(create_keyserver_app(data))


def _upload(verification: VerificationService, client: TestClient, keys, mac_keys=None):
    code = verification.issue("confirmed", None).short_code
    token, _ = verification.verify_code(code)
    secret = b"s" * 32
    cert = verification.certificate(
        token, base64.b64encode(tek_hmac(mac_keys or keys, secret)).decode()
    )
    body = padded_publish_body(
        keys=keys, certificate=cert, hmac_key=secret, health_authority_id="test"
    )
    return client.post("/v1/publish", content=body, headers={"X-Chaff": "0"})


def test_old_future_and_malformed_keys_are_refused_one_by_one(server) -> None:
    _data, verification, client = server
    today = crypto.rolling_start_for(time.time())
    keys = [
        TemporaryExposureKey(crypto.new_tek(), today - 144),  # fine
        TemporaryExposureKey(crypto.new_tek(), today - 20 * 144),  # too old
        TemporaryExposureKey(crypto.new_tek(), today + 2 * 144),  # future
        TemporaryExposureKey(crypto.new_tek(), today - 288, rolling_period=200),  # bad period
    ]
    resp = _upload(verification, client, keys)
    assert resp.status_code == 200
    out = resp.json()
    assert out["insertedExposures"] == 1
    assert [e["index"] for e in out["keyErrors"]] == [1, 2, 3]
    assert "older than 14 days" in out["keyErrors"][0]["error"]


def test_keys_that_do_not_match_the_certificate_hmac_are_refused(server) -> None:
    _data, verification, client = server
    today = crypto.rolling_start_for(time.time())
    keys = [TemporaryExposureKey(crypto.new_tek(), today - 144)]
    other = [TemporaryExposureKey(crypto.new_tek(), today - 144)]
    resp = _upload(verification, client, keys, mac_keys=other)
    assert resp.status_code == 401
    assert "HMAC" in resp.json()["error"]


def test_more_than_30_keys_in_one_upload_are_refused_with_a_clear_message(server) -> None:
    _data, _verification, client = server
    today = crypto.rolling_start_for(time.time())
    keys = [TemporaryExposureKey(crypto.new_tek(), today - 144) for _ in range(31)]
    body = json.dumps(
        {
            "temporaryExposureKeys": [
                {"key": k.key_b64, "rollingStartNumber": k.rolling_start} for k in keys
            ],
            "healthAuthorityID": "x",
            "verificationPayload": "x",
            "hmacKey": "x",
        }
    )
    resp = client.post("/v1/publish", content=body)
    assert resp.status_code == 400
    assert str(MAX_KEYS_PER_PUBLISH) in resp.json()["error"]


def test_garbage_bodies_get_a_4xx_not_a_crash(server) -> None:
    _data, _verification, client = server
    for body in (b"", b"{", b"[]", b'{"temporaryExposureKeys": "x"}', b"\xff" * 40_000):
        resp = client.post("/v1/publish", content=body)
        assert 400 <= resp.status_code < 500


def test_export_files_and_keys_leave_the_server_after_14_days(server) -> None:
    data, verification, client = server
    now = time.time()
    keys = [TemporaryExposureKey(crypto.new_tek(), crypto.rolling_start_for(now) - 144)]
    assert _upload(verification, client, keys).json()["insertedExposures"] == 1
    built = run_exports(data, int(now + 6 * 3600))
    assert built
    assert client.get("/v1/index.txt").text.split() == built
    run_exports(data, int(now + 20 * 86_400))
    assert (
        client.get("/v1/index.txt").text.split() == []
        or built[0] not in client.get("/v1/index.txt").text.split()
    )
    assert client.app.state.store.count() == 0
    assert client.get(f"/v1/exports/{built[0]}").status_code == 404


def test_export_names_cannot_escape_the_export_directory(server) -> None:
    _data, _verification, client = server
    assert client.get("/v1/exports/../../keys.sqlite3").status_code == 404
