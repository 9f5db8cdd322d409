"""Card policy is configuration: historical rule changes replay without code changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from episignal.card.cli import publish_day
from episignal.card.policy import PolicyError, RiskMarker, load_policy, parse_policy
from episignal.config import Settings
from episignal.store.publish import PublishError
from episignal.web.app import create_app

from .helpers import ALICE, FIXTURE_ROWS, Env, itinerary_table


class RecordingEngine:
    """Stands in for episignal.engine.itinerary: returns fixture rows, records its arguments."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table
        self.calls: list[dict[str, Any]] = []

    def __call__(self, data_dir: Path, date: dt.date, **kwargs: Any) -> pa.Table:
        self.calls.append({"date": date, **kwargs})
        return self.table


def test_packaged_policy_has_fourteen_days_then_seven_from_july_2022() -> None:
    policy = load_policy()
    assert policy.in_force(dt.date(2022, 7, 7)).window_days == 14
    assert policy.in_force(dt.date(2022, 7, 8)).window_days == 7
    assert policy.in_force(dt.date(2022, 6, 28)).risk_marker == RiskMarker.STAR
    assert policy.in_force(dt.date(2022, 6, 29)).risk_marker == RiskMarker.NONE
    assert policy.in_force(dt.date(2022, 12, 13)).service_open is False


def _sign_in_and_card(env: Env) -> dict[str, Any]:
    if "es_session" not in env.client.cookies:
        env.sign_in(ALICE)
    return env.client.get("/api/card").json()  # type: ignore[no-any-return]


def _declare_wuhan(env: Env) -> None:
    r = env.client.post(
        "/api/risk-areas",
        headers=env.token("cdc", "risk-area:write"),
        json={"code": "420106", "level": "medium", "starts_at": "2020-01-01T00:00:00+08:00"},
    )
    assert r.status_code == 201, r.text


def test_star_removed_and_window_shortened_by_publishing_later_days(env: Env) -> None:
    engine = RecordingEngine(itinerary_table(env.data_dir, FIXTURE_ROWS))
    _declare_wuhan(env)
    settings = env.settings

    publish_day(env.data_dir, dt.date(2022, 6, 1), settings=settings, source=engine)
    card = _sign_in_and_card(env)
    assert card["risk_marker"] == "star" and card["places"][0]["star"] is True
    assert card["window_days"] == 14

    publish_day(env.data_dir, dt.date(2022, 7, 1), settings=settings, source=engine)
    card = _sign_in_and_card(env)
    assert card["risk_marker"] == "none" and card["places"][0]["star"] is False

    publish_day(env.data_dir, dt.date(2022, 7, 10), settings=settings, source=engine)
    card = _sign_in_and_card(env)
    assert card["window_days"] == 7 and card["policy_version"] == "2022.7"
    assert [c["days"] for c in engine.calls] == [14, 14, 7]
    assert {c["hours"] for c in engine.calls} == {4.0}


def test_nothing_is_published_after_the_service_closed(env: Env) -> None:
    engine = RecordingEngine(itinerary_table(env.data_dir, FIXTURE_ROWS))
    with pytest.raises(PublishError, match="closed"):
        publish_day(env.data_dir, dt.date(2022, 12, 14), settings=env.settings, source=engine)
    assert engine.calls == []


LOCAL_VERSIONS = """
[[version]]
id = "local.1"
effective_from = 2020-01-01
window_days = 14
min_stay_hours = 4.0
risk_marker = "star"
close_contact_days = 14
consent_version = "2020.1"
  [[version.colour_rule]]
  colour = "yellow"
  any_of = ["stay_in_named_place"]
  places = ["110000"]
"""


def test_a_policy_file_of_ones_own_changes_colours_without_code(env: Env, tmp_path: Path) -> None:
    packaged = (Path(__file__).parents[2] / "src/episignal/card/policy.toml").read_text()
    shared = packaged.split("# --- versions")[0]
    # A province decides that a stay in Beijing (110000) makes the card yellow.
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(shared + LOCAL_VERSIONS)
    settings = Settings(**{**env.settings.model_dump(), "card_policy_file": policy_path})
    engine = RecordingEngine(itinerary_table(env.data_dir, FIXTURE_ROWS))
    publish_day(env.data_dir, dt.date(2020, 1, 20), settings=settings, source=engine)
    with TestClient(create_app(env.data_dir, settings, store=env.store)) as client:
        local = Env(env.data_dir, settings, env.store, client)
        local.sign_in(ALICE)
        assert client.get("/api/card").json()["colour"] == "yellow"


def test_policy_versions_out_of_date_order_are_refused(tmp_path: Path) -> None:
    packaged = (Path(__file__).parents[2] / "src/episignal/card/policy.toml").read_text()
    policy_path = tmp_path / "policy.toml"
    policy_path.write_text(packaged + LOCAL_VERSIONS)
    with pytest.raises(PolicyError, match="increasing"):
        load_policy(policy_path)


def test_inconsistent_policy_is_refused_with_the_reason() -> None:
    with pytest.raises(PolicyError, match="unknown consent"):
        parse_policy("""
[colours.green]
zh = "g"
en = "g"
[colours.yellow]
zh = "y"
en = "y"
[colours.orange]
zh = "o"
en = "o"
[colours.red]
zh = "r"
en = "r"
[consent."a"]
zh = "x"
en = "x"
[[version]]
id = "1"
effective_from = 2020-01-01
window_days = 14
min_stay_hours = 4
risk_marker = "star"
close_contact_days = 14
consent_version = "b"
""")
