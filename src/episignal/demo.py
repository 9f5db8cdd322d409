"""`episignal demo`: the whole chain on the embedded default, from simulated carrier feeds onwards.

simulate → ingest (three carrier layouts) → stays → itineraries → evaluation against the truth →
a few itineraries as the card would list them → the card service, published and served.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import pyarrow.parquet as pq
import typer
from rich.table import Table

from episignal.cli_common import DataDirOption, console
from episignal.engine.cli import itinerary
from episignal.engine.itinerary import itineraries_for_date
from episignal.engine.process import event_days
from episignal.evaluation.cli import evaluate_cmd
from episignal.ingest.cli import ingest
from episignal.layout import Layout
from episignal.privacy.pseudonym import Pseudonymiser, mask_msisdn
from episignal.simulate.cli import simulate
from episignal.web.demo import serve_demo

DEMO_DATA = Path("episignal-demo")
CARRIER_FILES = {"carrier-a": "*.txt", "carrier-b": "*.csv", "carrier-c": "*.tsv"}


def _show_examples(data: Path, date: dt.date, n: int) -> None:
    """A few subscribers' itineraries next to their (masked) simulated numbers."""
    subscribers = pq.read_table(Layout(data).truth / "subscribers.parquet").to_pylist()
    to_pseudonym = Pseudonymiser.for_data_dir(data).of_e164
    table = itineraries_for_date(data, date)
    by_subscriber: dict[str, list[str]] = {}
    for row in table.to_pylist():
        by_subscriber.setdefault(row["subscriber"], []).append(row["place_name"])
    out = Table(title=f"您于前14天内到达或途经 — itineraries for the 14 days ending {date}")
    out.add_column("number")
    out.add_column("tags")
    out.add_column("places")
    shown = 0
    for sub in subscribers:
        places = by_subscriber.get(to_pseudonym(sub["msisdn"]))
        tags = [k for k, v in sub.items() if v is True]
        if places and (len(places) > 1 or shown < 2):
            out.add_row(mask_msisdn(sub["msisdn"]), ", ".join(tags), "，".join(places))
            shown += 1
        if shown == n:
            break
    console.print(out)


def demo(
    subscribers: Annotated[int, typer.Option(help="Simulated subscribers.")] = 3000,
    days: Annotated[int, typer.Option(help="Simulated days.")] = 14,
    scenario: Annotated[
        str, typer.Option(help="baseline, spring-festival or lockdown.")
    ] = "baseline",
    serve: Annotated[bool, typer.Option(help="End by serving the card service.")] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to serve on.")] = 8000,
    data: DataDirOption = DEMO_DATA,
) -> None:
    """Simulate carrier feeds, ingest them, compute itineraries, evaluate, serve the card."""
    console.rule("1 · simulate carrier signaling")
    simulate(
        scenario=scenario,
        subscribers=subscribers,
        days=days,
        seed=1,
        start=None,
        canonical=False,
        data=data,
    )
    raw = Layout(data).raw
    console.rule("2 · ingest each carrier's export")
    for fmt, pattern in CARRIER_FILES.items():
        files = sorted((raw / fmt).glob(pattern))
        cells = raw / "cells.csv" if fmt == "carrier-a" else None
        ingest(files=files, format=fmt, cells=cells, carrier=None, data=data)
    last = event_days(data)[-1]
    console.rule("3 · stays and itineraries (dwell rule, 14 days, 4 hours)")
    itinerary(
        date=last.isoformat(),
        out=data / f"itinerary-{last.isoformat()}.csv",
        days=14,
        hours=4.0,
        rule="dwell",
        engine="duckdb",
        spark_master=None,
        data=data,
    )
    _show_examples(data, last, 8)
    console.rule("4 · accuracy against the simulator's truth")
    evaluate_cmd(date=None, days=14, hours=4.0, json_out=data / "evaluation.json", data=data)
    if serve:
        serve_demo(data, host, port)
