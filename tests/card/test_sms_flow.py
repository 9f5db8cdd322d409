"""The SMS channel (gateway webhook → reply through send_sms), here with the local outbox."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from episignal.store import schema

from .helpers import ALICE, CAROL, Env, publish_fixture


def _mo(env: Env, number: str, text: str, secret: str = "kannel-secret") -> int:
    r = env.client.get("/sms/mo", params={"from": "+86" + number, "text": text, "secret": secret})
    return r.status_code


def test_cxmyd_then_y_replies_with_the_itinerary(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    assert _mo(env, ALICE, "cxmyd") == 200
    prompt = env.last_sms_to(ALICE)
    assert "回复“Y”" in prompt and "5分钟" in prompt and "同意并授权运营商" in prompt
    assert _mo(env, ALICE, "Y") == 200
    reply = env.last_sms_to(ALICE)
    assert "138****8000" in reply
    assert "您于前14天内到达或途经：湖北省武汉市，北京市" in reply
    assert "停留4小时以上的国内城市" in reply
    with env.store.read() as conn:
        consents = conn.execute(select(schema.consent.c.channel)).scalars().all()
        replies = conn.execute(
            select(schema.audit_log).where(schema.audit_log.c.event == "sms_reply")
        ).all()
    assert consents == ["sms"] and len(replies) == 1


def test_no_data_reply_for_a_number_without_itinerary(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    _mo(env, CAROL, "CXMYD")
    _mo(env, CAROL, "y")
    assert "抱歉，没有找到您的行程数据" in env.last_sms_to(CAROL)


def test_y_without_a_pending_query_or_too_late_asks_to_start_again(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    _mo(env, ALICE, "Y")
    assert "重新发送CXMYD" in env.last_sms_to(ALICE)
    services = env.client.app.state.services  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    services.mo.handle("+86" + ALICE, "CXMYD", now)
    services.mo.handle("+86" + ALICE, "Y", now + timedelta(minutes=5, seconds=1))
    assert "重新发送CXMYD" in env.last_sms_to(ALICE)


def test_unknown_text_gets_the_short_help(env: Env) -> None:
    _mo(env, ALICE, "hello?")
    assert env.last_sms_to(ALICE) == "发送CXMYD查询本人行程；收到授权提示后5分钟内回复Y。"


def test_webhook_without_the_gateway_secret_is_refused(env: Env) -> None:
    assert _mo(env, ALICE, "CXMYD", secret="guess") == 403
    assert env.outbox() == []


@pytest.mark.parametrize("backend", ["sqlite"], indirect=False)
def test_no_raw_number_reaches_the_logs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    env.client.get("/api/card")
    _mo(env, ALICE, "CXMYD")
    _mo(env, ALICE, "Y")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "sms sent to 138****8000" in text
    assert ALICE not in text and "8613800138000" not in text
