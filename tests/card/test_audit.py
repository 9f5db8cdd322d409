"""The audit log is hash-chained: any edited, inserted or deleted row is reported."""

from __future__ import annotations

import json

from sqlalchemy import delete, insert, select, update
from typer.testing import CliRunner

from episignal.cli import app
from episignal.store import audit, schema

from .helpers import ALICE, Env, publish_fixture


def _traffic(env: Env) -> None:
    publish_fixture(env.store, env.data_dir)
    env.sign_in(ALICE)
    for _ in range(3):
        token = env.client.get("/api/card").json()["qr_token"]
    env.client.post("/api/verify", json={"token": token})


def test_untouched_log_verifies_and_records_each_disclosure(env: Env) -> None:
    _traffic(env)
    report = audit.verify(env.store)
    assert report.ok and report.rows == report.head_seq
    with env.store.read() as conn:
        events = (
            conn.execute(select(schema.audit_log.c.event).order_by(schema.audit_log.c.seq))
            .scalars()
            .all()
        )
    assert events.count("card_view") == 3 and events.count("verify") == 1
    assert {"publish", "otp_sent", "session"} <= set(events)


def test_edited_row_is_reported(env: Env) -> None:
    _traffic(env)
    log = schema.audit_log
    with env.store.write() as conn:
        conn.execute(
            update(log).where(log.c.seq == 3).values(detail=json.dumps({"colour": "green"}))
        )
    report = audit.verify(env.store)
    assert not report.ok and any(p.seq == 3 and "edited" in p.problem for p in report.problems)


def test_deleted_row_is_reported(env: Env) -> None:
    _traffic(env)
    with env.store.write() as conn:
        conn.execute(delete(schema.audit_log).where(schema.audit_log.c.seq == 4))
    report = audit.verify(env.store)
    assert any("missing" in p.problem for p in report.problems)


def test_inserted_row_is_reported(env: Env) -> None:
    _traffic(env)
    log = schema.audit_log
    with env.store.write() as conn:
        row = conn.execute(select(log).where(log.c.seq == 2)).one()._asdict()
        conn.execute(update(log).where(log.c.seq > 2).values(seq=log.c.seq + 1000))
        conn.execute(insert(log).values({**row, "seq": 3, "event": "card_view"}))
    report = audit.verify(env.store)
    assert not report.ok


def test_truncated_tail_disagrees_with_the_head(env: Env) -> None:
    _traffic(env)
    with env.store.read() as conn:
        last = conn.execute(select(schema.audit_head.c.seq)).scalar_one()
    with env.store.write() as conn:
        conn.execute(delete(schema.audit_log).where(schema.audit_log.c.seq == last))
    report = audit.verify(env.store)
    assert any("head" in p.problem for p in report.problems)


def test_audit_verify_command_exits_nonzero_on_tampering(env: Env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    _traffic(env)
    if env.settings.database_url:
        monkeypatch.setenv("EPISIGNAL_DATABASE_URL", env.settings.database_url)
    from episignal.config import get_settings

    get_settings.cache_clear()
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--data", str(env.data_dir)])
    assert ok.exit_code == 0 and "intact" in ok.output
    with env.store.write() as conn:
        conn.execute(
            update(schema.audit_log).where(schema.audit_log.c.seq == 2).values(actor="someone-else")
        )
    bad = runner.invoke(app, ["audit", "verify", "--data", str(env.data_dir)])
    assert bad.exit_code == 1 and "row 2" in bad.output
    get_settings.cache_clear()
