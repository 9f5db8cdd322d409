"""Fuzz every operation of the published OpenAPI (valid and invalid inputs): never a 5xx."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from episignal.card.cli import issue_token
from episignal.config import Settings
from episignal.store import open_store
from episignal.web.app import create_app

from .helpers import ALICE, publish_fixture


def _app_under_test() -> tuple[Any, dict[str, str]]:
    # Built at import: schemathesis collects one test per operation from the live schema.
    root = Path(tempfile.mkdtemp(prefix="episignal-fuzz-"))
    atexit.register(shutil.rmtree, root, True)
    data = root / "data"
    data.mkdir()
    cfg = Settings(
        data_dir=data,
        sms="outbox",
        cookie_secure=False,
        sms_mo_secret="fuzz-secret",
        card_lookups_per_minute=100_000,  # type: ignore[arg-type]
        otp_per_client_per_hour=100_000,
        database_url=None,
    )
    store = open_store(data, cfg)
    publish_fixture(store, data)
    app = create_app(data, cfg, store=store)
    services = app.state.services
    token = issue_token(
        data, "fuzzer", ["case:write", "close-contact:write", "risk-area:write"], store=store
    )
    cookie, _ = services.sessions.issue(
        services.pseudonymiser(ALICE), "138****8000", datetime.now(UTC)
    )
    auth = {
        "Authorization": f"Bearer {token}",
        "X-CSRF-Token": "fuzz-csrf",
        "Cookie": f"es_csrf=fuzz-csrf; es_session={cookie}",
    }
    return app, auth


APP, AUTH = _app_under_test()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
# Valid inputs and deliberately invalid ones (wrong types, missing fields, out-of-range values).
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case: Any) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])
