"""Integration with the real pipeline: simulate → ingest → engine → publish → the card."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from episignal.card.cli import publish_day
from episignal.config import Settings
from episignal.engine.itinerary import itineraries_for_date
from episignal.engine.process import event_days
from episignal.ingest.cli import ingest
from episignal.layout import Layout
from episignal.privacy.pseudonym import Pseudonymiser
from episignal.simulate.cli import simulate
from episignal.store import open_store
from episignal.web.app import create_app

from .helpers import Env

pytestmark = pytest.mark.slow

CARRIER_FILES = {"carrier-a": "*.txt", "carrier-b": "*.csv", "carrier-c": "*.tsv"}


@pytest.fixture(scope="module")
def pipeline_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("pipeline") / "data"
    simulate(
        scenario="baseline", subscribers=300, days=3, seed=3, start=None, canonical=False, data=data
    )
    raw = Layout(data).raw
    for fmt, pattern in CARRIER_FILES.items():
        files = sorted((raw / fmt).glob(pattern))
        ingest(
            files=files,
            format=fmt,
            cells=raw / "cells.csv" if fmt == "carrier-a" else None,
            carrier=None,
            data=data,
        )
    return data


def test_published_day_from_the_engine_is_what_the_card_lists(pipeline_data: Path) -> None:
    data = pipeline_data
    settings = Settings(data_dir=data, cookie_secure=False, database_url=None)
    day = event_days(data)[-1]
    first = publish_day(data, day, settings=settings)
    again = publish_day(data, day, settings=settings)
    assert first.subscribers > 0 and again.unchanged
    expected = itineraries_for_date(data, day, days=14, hours=4.0, rule="dwell")
    numbers = pq.read_table(Layout(data).truth / "subscribers.parquet").column("msisdn")
    pseudo = Pseudonymiser.for_data_dir(data)
    by_sub: dict[str, list[str]] = {}
    for row in expected.to_pylist():
        by_sub.setdefault(row["subscriber"], []).append(row["place_code"])
    number = next(n for n in numbers.to_pylist() if pseudo.of_e164(n.lstrip("+")) in by_sub)
    store = open_store(data, settings)
    try:
        with TestClient(create_app(data, settings, store=store)) as client:
            env = Env(data, settings, store, client)
            env.sign_in(number.lstrip("+")[2:] if number.lstrip("+").startswith("86") else number)
            card = client.get("/api/card").json()
    finally:
        store.dispose()
    listed = [p["code"] for p in card["places"]] + [c["code"] for c in card["countries"]]
    assert sorted(listed) == sorted(set(by_sub[pseudo.of_e164(number.lstrip("+"))]))
    assert card["data_date"] == day.isoformat() and card["has_data"]


def test_demo_offers_numbers_that_have_a_card_and_one_without(pipeline_data: Path) -> None:
    from episignal.web.demo import demo_numbers

    settings = Settings(data_dir=pipeline_data, cookie_secure=False, database_url=None)
    publish_day(pipeline_data, event_days(pipeline_data)[-1], settings=settings)
    offered = demo_numbers(pipeline_data, settings)
    assert len(offered) >= 2
    with_places = [(places, code) for _, places, code in offered if code is not None]
    assert with_places and all(places and code for places, code in with_places)
    assert all(number.lstrip("+").isdigit() for number, _, _ in offered)
