"""Helpers of the card-service suite: fixture itineraries and a signed-in test client."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi.testclient import TestClient

from episignal.card.cli import issue_token
from episignal.config import Settings
from episignal.privacy.pseudonym import Pseudonymiser
from episignal.store.engine import Store
from episignal.store.publish import load_itineraries


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def itinerary_table(data_dir: Path, rows: list[tuple[str, str, str, str, str, str]]) -> pa.Table:
    """Rows of (number, place_code, place_name, place_kind, first_arrival, last_departure)."""
    pseudo = Pseudonymiser.for_data_dir(data_dir)
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "subscriber",
            "place_code",
            "place_name",
            "place_kind",
            "first_arrival",
            "last_departure",
        )
    }
    for number, code, name, kind, arrival, departure in rows:
        cols["subscriber"].append(pseudo(number))
        cols["place_code"].append(code)
        cols["place_name"].append(name)
        cols["place_kind"].append(kind)
        cols["first_arrival"].append(utc(arrival))
        cols["last_departure"].append(utc(departure))
    return pa.table(
        {
            **{
                k: pa.array(cols[k], pa.string())
                for k in ("subscriber", "place_code", "place_name", "place_kind")
            },
            "first_arrival": pa.array(cols["first_arrival"], pa.timestamp("us", tz="UTC")),
            "last_departure": pa.array(cols["last_departure"], pa.timestamp("us", tz="UTC")),
        }
    )


ALICE = "13800138000"  # Wuhan then Beijing
BOB = "13900139000"  # Shanghai, then Japan
CAROL = "13700137000"  # no itinerary rows
WUHAN, BEIJING, SHANGHAI = "420100", "110000", "310000"

FIXTURE_ROWS = [
    (ALICE, WUHAN, "湖北省武汉市", "city", "2020-01-15T01:00:00", "2020-01-18T10:00:00"),
    (ALICE, BEIJING, "北京市", "city", "2020-01-19T02:00:00", "2020-01-20T09:00:00"),
    (BOB, SHANGHAI, "上海市", "city", "2020-01-12T00:00:00", "2020-01-14T00:00:00"),
    (BOB, "JP", "日本", "country", "2020-01-15T00:00:00", "2020-01-17T00:00:00"),
]


def publish_fixture(
    store: Store,
    data_dir: Path,
    rows: list[Any] | None = None,
    day: str = "2020-01-20",
    policy_version: str = "2020.1",
    window_days: int = 14,
) -> Any:
    table = itinerary_table(data_dir, FIXTURE_ROWS if rows is None else rows)
    return load_itineraries(
        store,
        table,
        data_date=datetime.fromisoformat(day).date(),
        window_days=window_days,
        min_stay_hours=4.0,
        policy_version=policy_version,
    )


@dataclass
class Env:
    data_dir: Path
    settings: Settings
    store: Store
    client: TestClient

    def outbox(self) -> list[dict[str, str]]:
        path = self.data_dir / "sms-outbox.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]

    def last_sms_to(self, number: str) -> str:
        for msg in reversed(self.outbox()):
            if msg["to"].endswith(number):
                return msg["text"]
        raise AssertionError(f"no SMS to …{number[-4:]}")

    def csrf_headers(self) -> dict[str, str]:
        token = self.client.get("/api/csrf").json()["token"]
        return {"X-CSRF-Token": token}

    def sign_in(self, number: str) -> None:
        headers = self.csrf_headers()
        r = self.client.post("/api/otp", json={"msisdn": number}, headers=headers)
        assert r.status_code == 202, r.text
        code = "".join(ch for ch in self.last_sms_to(number) if ch.isdigit())[:6]
        version = self.client.get("/api/consent").json()["version"]
        r = self.client.post(
            "/api/session",
            headers=headers,
            json={"msisdn": number, "code": code, "consent_version": version},
        )
        assert r.status_code == 200, r.text

    def token(self, name: str, *scopes: str) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + issue_token(self.data_dir, name, list(scopes), store=self.store)
        }
