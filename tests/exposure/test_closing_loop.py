"""A match on the phone turns the card orange and sends an SMS, with the user's consent."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from episignal.exposure.phone import CLOSE_CONTACT_SOURCE, report_close_contact
from episignal.exposure.risk import LOCAL_TZ

MSISDN = "+8613800138000"


@pytest.fixture()
def card_service(tmp_path: Path):
    # the card service's real app and token issuing (owned by the card-service engineer)
    from episignal.card.cli import issue_token
    from episignal.web.app import create_app

    data = tmp_path / "data"
    app = create_app(data)
    token = issue_token(data, "exposure-app", ["close-contact:write"])
    return data, TestClient(app), token


@pytest.mark.slow
def test_a_consented_match_reaches_the_card_service_and_an_sms_goes_out(card_service) -> None:
    from datetime import datetime

    data, client, token = card_service
    exposure_date = datetime.now(LOCAL_TZ).date() - timedelta(days=2)
    resp = report_close_contact(
        client, bearer_token=token, msisdn=MSISDN, exposure_date=exposure_date, consent=True
    )
    assert resp.status_code == 201, resp.text
    outbox = data / "sms-outbox.jsonl"
    messages = [json.loads(line) for line in outbox.read_text().splitlines()]
    assert any(m["to"].endswith("13800138000") for m in messages)


def test_without_consent_nothing_is_sent() -> None:
    from datetime import date

    with pytest.raises(PermissionError):
        report_close_contact(
            None,  # type: ignore[arg-type]
            bearer_token="x",
            msisdn=MSISDN,
            exposure_date=date(2022, 5, 1),
            consent=False,
        )


def test_the_close_contact_source_is_exposure_notification() -> None:
    assert CLOSE_CONTACT_SOURCE == "exposure_notification"
