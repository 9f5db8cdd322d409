"""Shared fixtures for the exposure-notification tests: the published reference values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# CI clones the repo with shared/ beside it; a missing reference must fail the tests, not skip.
REFERENCE_DIR = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"


def load_reference() -> dict:
    path = REFERENCE_DIR / "gaen_vectors.json"
    if not path.is_file():
        pytest.fail(f"published GAEN reference values missing: {path}")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def reference() -> dict:
    return load_reference()


@pytest.fixture(scope="session")
def crypto_vectors(reference: dict) -> dict:
    return reference["gaen_crypto_v1_2"]


@pytest.fixture(scope="session")
def export_example(reference: dict) -> dict:
    return reference["export_file_example"]
