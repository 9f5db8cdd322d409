"""CLI of the card service: publish a day, serve the web app, check the audit log, API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import insert, select, update

from episignal.card.policy import PolicyError, load_policy
from episignal.cli_common import DEFAULT_DATA, DataDirOption, console, fail
from episignal.config import Settings
from episignal.store import audit, open_store, schema
from episignal.store.engine import Store
from episignal.store.publish import PublishError, PublishResult, load_itineraries

ItinerarySource = Callable[..., Any]
SCOPES = ("close-contact:write", "case:write", "risk-area:write")
TOKEN_BYTES = 32


def _engine_source() -> ItinerarySource:
    try:
        from episignal.engine.itinerary import itineraries_for_date
    except ImportError as exc:
        raise fail(f"the itinerary engine is not available ({exc})") from None
    return itineraries_for_date


def publish_day(
    data_dir: Path,
    day: dt.date,
    *,
    settings: Settings | None = None,
    source: ItinerarySource | None = None,
) -> PublishResult:
    """Compute (via the engine) and publish the itineraries of ``day`` under its policy."""
    settings = settings or Settings()
    policy = load_policy(settings.card_policy_file)
    version = policy.in_force(day)
    if not version.service_open:
        raise PublishError(
            f"the card service is closed from {version.effective_from} (policy {version.id}); "
            "nothing is published"
        )
    source = source or _engine_source()
    table = source(
        data_dir,
        day,
        days=version.window_days,
        hours=version.min_stay_hours,
        rule=version.stay_rule,
    )
    store = open_store(data_dir, settings)
    try:
        return load_itineraries(
            store,
            table,
            data_date=day,
            window_days=version.window_days,
            min_stay_hours=version.min_stay_hours,
            policy_version=version.id,
        )
    finally:
        store.dispose()


def publish(
    date: Annotated[
        dt.datetime,
        typer.Option("--date", formats=["%Y-%m-%d"], help="local day the itineraries run up to"),
    ],
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Load one day's itineraries into the serving store (atomic switch; re-running is harmless)."""
    try:
        result = publish_day(data, date.date())
    except (PublishError, PolicyError) as exc:
        raise fail(str(exc)) from None
    except ValueError as exc:  # the engine's ItineraryError: no data for that day, …
        raise fail(f"no itineraries for {date.date()}: {exc}") from None
    if result.unchanged:
        console.print(f"{result.data_date}: already live (publication {result.publication_id})")
    else:
        console.print(
            f"published {result.data_date}: {result.subscribers:,} subscribers, "
            f"{result.rows:,} places (publication {result.publication_id})"
        )


def serve(
    data: DataDirOption = DEFAULT_DATA,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes (stateless)")] = 1,
) -> None:
    """Run the web app (card pages and API, verifier, health-authority API, SMS webhook)."""
    import uvicorn

    os.environ["EPISIGNAL_DATA_DIR"] = str(data)
    open_store(data).dispose()  # create the schema once, before the workers race for it
    console.print(f"card page  http://{host}:{port}/\nverifier   http://{host}:{port}/verify")
    uvicorn.run(
        "episignal.web.asgi:create",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_level="warning",
        proxy_headers=False,
    )


audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(data: DataDirOption = DEFAULT_DATA) -> None:
    """Walk the audit chain; exit 1 and list every edited, inserted or deleted row."""
    store = open_store(data)
    try:
        report = audit.verify(store)
    finally:
        store.dispose()
    if report.ok:
        console.print(f"audit log intact: {report.rows:,} rows, head {report.head_hash[:16]}…")
        return
    for p in report.problems:
        console.print(f"[red]row {p.seq}[/]: {p.problem}")
    raise typer.Exit(1)


tokens_app = typer.Typer(
    help="Bearer tokens of health-authority API clients.", no_args_is_help=True
)


@tokens_app.command("issue")
def tokens_issue(
    name: Annotated[str, typer.Option(help="who holds it, e.g. 'wuhan-cdc'")],
    scope: Annotated[list[str], typer.Option(help=f"one of {', '.join(SCOPES)}; repeatable")],
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Create a token (printed once; only its SHA-256 is stored)."""
    bad = [s for s in scope if s not in SCOPES]
    if bad or not scope:
        raise fail(f"unknown scope(s) {bad}; choose from {', '.join(SCOPES)}")
    token = issue_token(data, name, scope)
    console.print(token)


def issue_token(data_dir: Path, name: str, scopes: list[str], *, store: Store | None = None) -> str:
    """Create a client with a fresh token; returns the token (only its SHA-256 is kept)."""
    token = "es_" + secrets.token_urlsafe(TOKEN_BYTES)
    own = store is None
    store = store or open_store(data_dir)
    try:
        c = schema.api_client
        with store.write() as conn:
            if conn.execute(select(c.c.id).where(c.c.name == name)).first():
                raise fail(f"a client named {name!r} exists; revoke it first")
            conn.execute(
                insert(c).values(
                    name=name,
                    token_sha256=hashlib.sha256(token.encode()).hexdigest(),
                    scopes=" ".join(sorted(set(scopes))),
                    created_at=datetime.now(UTC),
                    revoked=False,
                )
            )
            audit.append(
                conn,
                [
                    audit.AuditEntry(
                        event="token_issued", actor="cli", detail={"client": name, "scopes": scopes}
                    )
                ],
            )
    finally:
        if own:
            store.dispose()
    return token


@tokens_app.command("revoke")
def tokens_revoke(name: Annotated[str, typer.Option()], data: DataDirOption = DEFAULT_DATA) -> None:
    """Revoke a client's token at once."""
    store = open_store(data)
    try:
        c = schema.api_client
        with store.write() as conn:
            done = conn.execute(update(c).where(c.c.name == name).values(revoked=True)).rowcount
            audit.append(
                conn,
                [audit.AuditEntry(event="token_revoked", actor="cli", detail={"client": name})],
            )
    finally:
        store.dispose()
    if not done:
        raise fail(f"no client named {name!r}")
    console.print(f"revoked {name}")
