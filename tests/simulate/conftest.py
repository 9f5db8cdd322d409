"""Small simulated data sets shared by the simulator tests (generated once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from episignal.simulate.run import simulate_to


@pytest.fixture(scope="session")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("baseline")
    simulate_to(data, "baseline", subscribers=768, seed=7, canonical=True)
    return data


@pytest.fixture(scope="session")
def lockdown(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("lockdown")
    simulate_to(data, "lockdown", subscribers=2048, seed=11)
    return data


@pytest.fixture(scope="session")
def festival(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("festival")
    simulate_to(data, "spring-festival", subscribers=1024, seed=13)
    return data
