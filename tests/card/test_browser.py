"""The real pages in headless Chromium at a phone viewport: sign in, see the card, verify it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from episignal.config import Settings
from episignal.store import open_store
from episignal.web.app import create_app

from .helpers import ALICE, BOB, CAROL, Env, publish_fixture
from .liveserver import live_server

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "card"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is required for the browser tests (./dev test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Env]]:
    data = tmp_path / "data"
    data.mkdir()
    # Secure cookies are fine on http://localhost in Chromium: keep the production default.
    settings = Settings(data_dir=data, sms="outbox", card_lookups_per_minute=1000)
    store = open_store(data, settings)
    publish_fixture(store, data, day="2021-06-01", policy_version="2021.5")
    app = create_app(data, settings, store=store)
    with live_server(app, host="localhost") as base:
        yield base, Env(data, settings, store, None)  # type: ignore[arg-type]
    store.dispose()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _sign_in(page: Any, base: str, env: Env, number: str) -> None:
    page.goto(base + "/")
    page.fill("#msisdn", number)
    page.click("#send-code")
    page.wait_for_selector("#send-code[disabled]")
    code = "".join(ch for ch in env.last_sms_to(number) if ch.isdigit())[:6]
    page.fill("#code", code)
    page.check("#consent")
    page.click("#query")
    page.wait_for_selector("#card:not([hidden])")
    page.wait_for_selector("#qr[src^='blob:']")
    for _ in range(50):  # the image decodes asynchronously
        if page.locator("#qr").evaluate("img => img.complete && img.naturalWidth") > 0:
            break
        page.wait_for_timeout(50)
    else:
        raise AssertionError("the QR code image did not load")


def test_number_code_consent_card_qr_and_verifier_accepts_it(browser: Any, site: Any) -> None:
    base, env = site
    page = browser.new_page(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN"
    )
    page.goto(base + "/")
    page.wait_for_selector("#login:not([hidden])")
    assert "同意并授权运营商查询本人在疫情期间前14天内到访地信息" in page.inner_text(
        "#consent-text"
    )
    page.fill("#msisdn", ALICE)
    page.click("#query")
    assert page.inner_text("#login-msg")  # no code yet: a message, not a crash
    _shot(page, "01-login")
    _sign_in(page, base, env, ALICE)
    assert page.inner_text("#masked") == "138****8000"
    assert page.inner_text("#lead") == "您于前14天内到达或途经："
    assert page.inner_text("#places") == "湖北省武汉市，北京市"
    assert "更新于" in page.inner_text(".updated")
    assert "green" in page.get_attribute("#colour", "class")
    first = page.inner_text("#clock")
    page.wait_for_timeout(1100)
    assert page.inner_text("#clock") != first  # the live element moves
    _shot(page, "02-card-green")

    token = page.input_value("#token")
    verifier = browser.new_page(viewport=PHONE, is_mobile=True, locale="zh-CN")
    verifier.goto(base + "/verify")
    verifier.fill("#token-in", token)
    verifier.click("button[type=submit]")
    verifier.wait_for_selector("#result:not([hidden])")
    assert "有效" in verifier.inner_text("#verdict")
    assert "138****8000" in verifier.inner_text("#v-masked")
    assert "湖北省武汉市" in verifier.inner_text("#v-places")
    assert "秒前" in verifier.inner_text("#age")
    _shot(verifier, "03-verifier-valid")

    page.click("#lang")
    assert page.inner_text("#lead").startswith("In the last 14 days")
    assert page.inner_text("#places") == "Wuhan, Hubei · Beijing"
    _shot(page, "04-card-english")
    page.reload()  # only the first login needs a code
    page.wait_for_selector("#card:not([hidden])")


def test_stale_token_is_refused_on_the_verifier_page(browser: Any, site: Any) -> None:
    base, env = site
    services_signer = create_app(env.data_dir, env.settings, store=env.store).state.services.signer
    then = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    stale = services_signer.sign(
        {
            "m": "138****8000",
            "c": "green",
            "p": [["湖北省武汉市", "420100", False]],
            "k": [],
            "d": "2021-06-01",
            "w": 14,
            "pv": "2021.5",
            "iat": int(then.timestamp()),
            "exp": int((then + dt.timedelta(minutes=5)).timestamp()),
        }
    )
    page = browser.new_page(viewport=PHONE, is_mobile=True, locale="zh-CN")
    page.goto(base + "/verify")
    page.fill("#token-in", stale)
    page.click("button[type=submit]")
    page.wait_for_selector("#result.bad")
    assert "无效" in page.inner_text("#verdict") and "已过期" in page.inner_text("#verdict")
    assert "1200" in page.inner_text("#age") or "120" in page.inner_text("#age")
    _shot(page, "05-verifier-stale")


def test_risk_star_abroad_and_no_data_cards_render(browser: Any, site: Any) -> None:
    base, env = site
    from episignal.store import risk

    risk.declare(
        env.store,
        division_code="420106",
        level="high",
        starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=1),
        ends_at=None,
        declared_by="test",
        now=dt.datetime.now(dt.UTC),
    )
    page = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN")
    _sign_in(page, base, env, ALICE)
    assert page.inner_text("#places") == "湖北省武汉市*，北京市"
    assert page.is_visible("#star-note")
    _shot(page, "06-card-star")
    page2 = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN")
    _sign_in(page2, base, env, BOB)
    assert "日本" in page2.inner_text("#places")
    assert "yellow" in page2.get_attribute("#colour", "class")
    _shot(page2, "07-card-yellow-abroad")
    page3 = browser.new_page(viewport=PHONE, device_scale_factor=2, is_mobile=True, locale="zh-CN")
    _sign_in(page3, base, env, CAROL)
    assert page3.is_visible("#no-data")
    assert "抱歉，没有找到您的行程数据" in page3.inner_text("#no-data")
    _shot(page3, "08-card-no-data")


def test_pages_load_nothing_from_other_origins(browser: Any, site: Any) -> None:
    base, env = site
    page = browser.new_page(viewport=PHONE)
    origins: set[str] = set()
    page.on("request", lambda req: origins.add(req.url.split("/")[2]))
    violations: list[str] = []
    page.on("console", lambda msg: violations.append(msg.text) if msg.type == "error" else None)
    _sign_in(page, base, env, ALICE)
    page.goto(base + "/verify")
    assert origins == {base.split("/")[2]}
    assert not [v for v in violations if "Content Security Policy" in v]
