"""End to end through the real gateway: fake SMSC → bearerbox → smsbox → app → back to the phone."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pytest

from episignal.config import Settings
from episignal.sms.segments import reassemble
from episignal.store import open_store
from episignal.store.pgcluster import free_port
from episignal.web.app import create_app

from .helpers import ALICE, publish_fixture
from .liveserver import live_server

pytestmark = pytest.mark.slow

REPO = Path(__file__).parents[2]
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"
SERVICE_NUMBER = "10001"
# fakesmsc prints what it receives form-encoded ("+" is a space byte).
_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>\s*$")


class Phone:
    """One handset on Kannel's fake SMSC: sends an MO, collects what it receives."""

    def __init__(self, smsc_port: int, number: str) -> None:
        self.smsc_port = smsc_port
        self.number = number

    def exchange(self, text: str, expect_messages: int, timeout_s: float = 20.0) -> list[str]:
        """Send ``text``; return the reassembled messages received (waits for that many)."""
        proc = subprocess.Popen(
            [
                FAKESMSC,
                "-H",
                "127.0.0.1",
                "-r",
                str(self.smsc_port),
                "-i",
                "0.1",
                "-m",
                "1",
                f"{self.number} {SERVICE_NUMBER} text {text}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        parts: list[tuple[bytes, str]] = []
        messages: list[str] = []
        done = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                m = _GOT.search(line)
                if not m:
                    continue
                sender, receiver, kind, rest = m.groups()
                assert sender == SERVICE_NUMBER and receiver == self.number
                udh = b""
                if kind == "udh":
                    udh_enc, kind, rest = rest.split(" ", 2)
                    udh = unquote_to_bytes(udh_enc.replace("+", " "))
                raw = (
                    unquote_to_bytes(rest.replace("+", " "))
                    if kind in ("data", "ucs2", "ucs-2")
                    else rest.encode()
                )
                body = (
                    raw.decode("utf-16-be") if kind in ("data", "ucs2", "ucs-2") else raw.decode()
                )
                if not udh:
                    messages.append(body)
                else:
                    parts.append((udh, body))
                    if len(parts) == udh[4]:
                        messages.append(reassemble(parts))
                        parts.clear()
                if len(messages) >= expect_messages:
                    done.set()
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        done.wait(timeout_s)
        proc.terminate()
        proc.wait(timeout=5)
        time.sleep(0.3)  # let bearerbox notice the SMSC link went away before the next phone
        assert len(messages) >= expect_messages, f"phone got {messages!r}"
        return messages


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[dict[str, Any]]:
    if not Path(FAKESMSC).exists():
        pytest.fail("Kannel's fake SMSC is required (Debian package kannel-extras)")
    data = tmp_path / "data"
    data.mkdir()
    app_port_holder: dict[str, Any] = {}
    ports = {name: free_port() for name in ("admin", "smsbox", "sendsms", "smsc")}
    password, mo_secret = secrets.token_hex(8), secrets.token_hex(8)
    settings = Settings(
        data_dir=data,
        sms="kannel",
        kannel_sendsms_url=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
        kannel_password=password,
        sms_mo_secret=mo_secret,  # type: ignore[arg-type]
        sms_service_number=SERVICE_NUMBER,
        cookie_secure=False,
    )
    store = open_store(data, settings)
    publish_fixture(store, data)
    app = create_app(data, settings, store=store)
    with live_server(app) as base:
        env = {
            **os.environ,
            "KANNEL_ADMIN_PORT": str(ports["admin"]),
            "KANNEL_SMSBOX_PORT": str(ports["smsbox"]),
            "KANNEL_SENDSMS_PORT": str(ports["sendsms"]),
            "KANNEL_SMSC_PORT": str(ports["smsc"]),
            "EPISIGNAL_KANNEL_PASSWORD": password,
            "EPISIGNAL_SMS_MO_SECRET": mo_secret,
            "EPISIGNAL_SMS_SERVICE_NUMBER": SERVICE_NUMBER,
            "EPISIGNAL_APP_URL": base,
        }
        state = tmp_path / "kannel"
        subprocess.run(
            [str(REPO / "deploy/kannel/start"), str(state)],
            env=env,
            check=True,
            capture_output=True,
            timeout=60,
        )
        app_port_holder.update(
            base=base, smsc_port=ports["smsc"], state=state, app=app, settings=settings
        )
        try:
            yield app_port_holder
        finally:
            subprocess.run(
                [str(REPO / "deploy/kannel/start"), str(state), "stop"],
                check=False,
                capture_output=True,
                timeout=30,
            )
            store.dispose()


def test_cxmyd_and_y_through_kannel_reach_the_phone_as_the_itinerary(gateway: Any) -> None:
    phone = Phone(gateway["smsc_port"], "+86" + ALICE)
    [prompt] = phone.exchange("CXMYD", expect_messages=1)
    assert "回复“Y”" in prompt and "5分钟" in prompt
    [reply] = phone.exchange("Y", expect_messages=1)
    assert reply.startswith("138****8000的动态行程卡")
    assert "您于前14天内到达或途经：湖北省武汉市，北京市。" in reply
    assert "停留4小时以上的国内城市" in reply
    assert len(reply) > 70  # it really went out as a concatenated SMS


def test_unknown_text_through_kannel_gets_the_help(gateway: Any) -> None:
    phone = Phone(gateway["smsc_port"], "+86" + ALICE)
    [reply] = phone.exchange("HELLO", expect_messages=1)
    assert reply == "发送CXMYD查询本人行程；收到授权提示后5分钟内回复Y。"


def test_web_sign_in_code_arrives_through_the_gateway(gateway: Any) -> None:
    import httpx

    phone = Phone(gateway["smsc_port"], "+86" + ALICE)
    with httpx.Client(base_url=gateway["base"]) as client:
        token = client.get("/api/csrf").json()["token"]
        # the phone must be attached to the SMSC to receive: send a harmless MO meanwhile
        result: dict[str, Any] = {}

        def ask() -> None:
            time.sleep(1.0)
            result["r"] = client.post(
                "/api/otp", json={"msisdn": ALICE}, headers={"X-CSRF-Token": token}
            )

        t = threading.Thread(target=ask)
        t.start()
        received = phone.exchange("HELLO", expect_messages=2)
        t.join()
    assert result["r"].status_code == 202
    code_sms = next(m for m in received if "验证码" in m)
    assert re.search(r"验证码\d{6}，5分钟内有效", code_sms)
