"""Fixtures of the card-service suite: a store on SQLite or PostgreSQL, fixture itineraries."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from episignal.config import Settings
from episignal.store import open_store
from episignal.store.engine import Store
from episignal.store.pgcluster import create_database, postgres_cluster
from episignal.web.app import create_app

from .helpers import Env

_db_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = None
    if backend == "postgres":
        admin = request.getfixturevalue("pg_admin_url")
        url = create_database(
            admin, f"t{next(_db_counter)}_{tmp_path.name[-12:].lower()}".replace("-", "_")
        )
    return Settings(
        data_dir=tmp_path / "data",
        database_url=url,
        sms="outbox",
        cookie_secure=False,
        card_lookups_per_minute=1000,
        sms_mo_secret="kannel-secret",
    )  # type: ignore[arg-type]


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.data_dir


@pytest.fixture
def store(data_dir: Path, settings: Settings) -> Iterator[Store]:
    s = open_store(data_dir, settings)
    yield s
    s.dispose()


@pytest.fixture
def env(data_dir: Path, settings: Settings, store: Store) -> Iterator[Env]:
    app = create_app(data_dir, settings, store=store)
    with TestClient(app, base_url="http://testserver") as client:
        yield Env(data_dir, settings, store, client)
