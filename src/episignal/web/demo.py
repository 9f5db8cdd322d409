"""Serve the card service on the demo data: publish the latest day, print how to try it, serve.

``serve_demo(data_dir, host, port)`` is what ``episignal demo`` calls once the pipeline has run.
Outgoing SMS (codes, replies) go to the local outbox, which is echoed here as it grows, so the
person trying the demo sees the code their "phone" received.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import uvicorn
from rich.table import Table
from sqlalchemy import select

from episignal.card.cli import issue_token, publish_day
from episignal.cli_common import console
from episignal.config import Settings
from episignal.layout import Layout
from episignal.privacy.pseudonym import Pseudonymiser, mask_msisdn
from episignal.store import open_store, schema
from episignal.web.app import create_app

DEMO_NUMBERS = 5
DEMO_CLIENT = "demo-health-authority"


def _latest_day(data_dir: Path):  # type: ignore[no-untyped-def]
    from episignal.engine.process import event_days

    days = event_days(data_dir)
    if not days:
        raise SystemExit("no events ingested yet: run the pipeline first (episignal demo)")
    return days[-1]


def demo_numbers(
    data_dir: Path, settings: Settings, n: int = DEMO_NUMBERS
) -> list[tuple[str, str]]:
    """(number, places) of simulated subscribers, those with several places first."""
    truth = Layout(data_dir).truth / "subscribers.parquet"
    if not truth.exists():
        return []
    numbers = pq.read_table(truth, columns=["msisdn"]).column("msisdn").to_pylist()
    pseudo = Pseudonymiser.for_data_dir(data_dir)
    by_pseudonym = {pseudo.of_e164(m.lstrip("+")): m for m in numbers[:20_000]}
    store = open_store(data_dir, settings)
    ip, st = schema.itinerary_place, schema.serving_state
    try:
        with store.read() as conn:
            rows = conn.execute(
                select(ip.c.subscriber, ip.c.place_name, ip.c.place_code)
                .join(st, (st.c.id == 1) & (ip.c.publication_id == st.c.publication_id))
                .where(ip.c.subscriber.in_(list(by_pseudonym)[:5000]))
            ).all()
    finally:
        store.dispose()
    places: dict[str, list[tuple[str, str]]] = {}
    for sub, name, code in rows:
        places.setdefault(sub, []).append((name, code))
    ranked = sorted(places.items(), key=lambda kv: -len(kv[1]))
    picked: list[tuple[str, str, str | None]] = [
        (_as_typed(by_pseudonym[s]), "，".join(name for name, _ in p), p[0][1])
        for s, p in ranked[: n - 1]
    ]
    without = next((m for s, m in by_pseudonym.items() if s not in places), None)
    if without:
        picked.append((_as_typed(without), "（无行程数据 / no itinerary）", None))
    return picked


def _as_typed(e164: str) -> str:
    """A Chinese number as people type it (national, 11 digits); others in + form."""
    digits = e164.lstrip("+")
    return digits[2:] if digits.startswith("86") and len(digits) == 13 else "+" + digits


def _echo_outbox(path: Path, stop: threading.Event) -> None:
    offset = path.stat().st_size if path.exists() else 0
    while not stop.wait(0.5):
        if not path.exists() or path.stat().st_size <= offset:
            continue
        with path.open("rb") as f:
            f.seek(offset)
            chunk = f.read()
        offset += len(chunk)
        for line in chunk.decode("utf-8", "replace").splitlines():
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            to = mask_msisdn(str(msg.get("to", "")).lstrip("+"))
            console.print(f"[cyan]SMS → {to}[/]  {msg.get('text', '')}")


def serve_demo(data_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    # Plain HTTP on loopback: cookies cannot be Secure here (production terminates TLS).
    settings = Settings(data_dir=data_dir, cookie_secure=False)
    day = _latest_day(data_dir)
    result = publish_day(data_dir, day, settings=settings)
    console.rule("itinerary card service")
    console.print(
        f"published {result.data_date}: {result.subscribers:,} subscribers "
        f"({'unchanged' if result.unchanged else 'new'} publication {result.publication_id})"
    )
    store = open_store(data_dir, settings)
    try:
        token = issue_token(
            data_dir,
            f"{DEMO_CLIENT}-{int(time.time())}",
            ["case:write", "close-contact:write", "risk-area:write"],
            store=store,
        )
    finally:
        store.dispose()
    base = f"http://{host}:{port}"
    table = Table(title="numbers to try (simulated subscribers)")
    table.add_column("number")
    table.add_column("published itinerary")
    offered = demo_numbers(data_dir, settings)
    for number, places, _ in offered:
        table.add_row(number, places)
    city = next((code for _, _, code in offered if code and code.isdigit()), "420100")
    console.print(table)
    console.print(f"card page      {base}/")
    console.print(f"verifier page  {base}/verify")
    console.print(
        f"SMS outbox     {Layout(data_dir).sms_outbox} (codes are echoed below)", soft_wrap=True
    )
    console.print(
        "health authority token (scopes case, close-contact, risk-area); e.g. declare a\n"
        "high-risk area in the first number's first city (its card gets a marker at once):\n"
        f"  curl -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f'-d \'{{"code":"{city}","level":"high","starts_at":"{day}T00:00:00+08:00"}}\''
        f" {base}/api/risk-areas",
        soft_wrap=True,  # a command to copy: never wrapped
    )
    stop = threading.Event()
    echo = threading.Thread(
        target=_echo_outbox, args=(Layout(data_dir).sms_outbox, stop), daemon=True
    )
    echo.start()
    try:
        uvicorn.run(
            create_app(data_dir, settings),
            host=host,
            port=port,
            access_log=False,
            log_level="warning",
        )
    finally:
        stop.set()
