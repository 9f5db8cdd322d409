"""`episignal process` and `episignal itinerary`: run the engine and export itineraries."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from episignal.cli_common import (
    DEFAULT_DATA,
    DataDirOption,
    StepColumn,
    console,
    fail,
    step_spinner,
    write_export,
)
from episignal.engine.backend import ENGINES, EngineConfig, OnStep, no_step
from episignal.engine.home import homes_for_period
from episignal.engine.itinerary import (
    ItineraryError,
    itineraries_for_date,
    itinerary_params,
    window_days,
)
from episignal.engine.process import NoEventsError, event_days, process_days

EXPORT_COLUMNS = ("subscriber", "place_code", "place_name", "first_arrival", "last_departure")

EngineOption = Annotated[str, typer.Option("--engine", help=f"Backend: {', '.join(ENGINES)}.")]
MasterOption = Annotated[
    str | None, typer.Option("--spark-master", help="Spark master URL, e.g. spark://host:7077.")
]


def engine_config(engine: str, spark_master: str | None) -> EngineConfig:
    if engine not in ENGINES:
        raise fail(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if spark_master and engine != "spark":
        engine = "spark"
    return EngineConfig(name=engine, spark_master=spark_master)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        StepColumn(),
        console=console,
    )


OnDay = Callable[[dt.date, bool], None]


@dataclass(frozen=True)
class WindowProgress:
    """The callbacks ``itineraries_for_date`` reports its progress to."""

    on_day: OnDay
    on_step: OnStep


@contextlib.contextmanager
def window_progress(data: Path, day: dt.date, days: int) -> Iterator[WindowProgress]:
    """A progress bar over the window's days with events as they are brought up to date, with the
    step under way beside it (a day counts once, however many calls report it)."""
    with_events = set(window_days(day, days)) & set(event_days(data))
    if not with_events:  # nothing to show: the call says why
        yield WindowProgress(lambda _day, _computed: None, no_step)
        return
    done: set[dt.date] = set()
    with _progress() as bar:
        task = bar.add_task("stays per day", total=len(with_events))

        def on_day(d: dt.date, _computed: bool) -> None:
            if d not in done:
                done.add(d)
                bar.advance(task)

        def on_step(name: str, percent: Callable[[], float | None]) -> None:
            bar.update(task, step=name, percent=percent)

        yield WindowProgress(on_day, on_step)
        bar.update(task, step="")


def process(
    force: Annotated[bool, typer.Option(help="Recompute days that are up to date.")] = False,
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = None,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Compute stays for every ingested day whose inputs changed (incremental)."""
    try:
        days = event_days(data)
        if not days:
            raise NoEventsError("no events ingested yet: run `episignal ingest` first")
        with _progress() as bar:
            task = bar.add_task("stays per day", total=len(days))
            done = process_days(
                data,
                days,
                engine=engine_config(engine, spark_master),
                force=force,
                on_day=lambda _d, _c: bar.advance(task),
                on_step=lambda name, percent: bar.update(task, step=name, percent=percent),
            )
            bar.update(task, step="")
    except NoEventsError as e:
        raise fail(str(e)) from None
    console.print(f"{len(done)} day(s) computed, {len(days) - len(done)} already up to date")


def export_table(table: pa.Table, out: Path) -> None:
    """The itinerary export (docs/data-contracts.md): times as ISO 8601 UTC text in CSV."""
    t = table.select(list(EXPORT_COLUMNS))
    if out.suffix != ".parquet":
        t = pa.table(
            {
                **{c: t[c] for c in EXPORT_COLUMNS[:3]},
                **{c: pc.strftime(t[c], "%Y-%m-%dT%H:%M:%SZ") for c in EXPORT_COLUMNS[3:]},
            }
        )
    write_export(t, out)


def itinerary(
    date: Annotated[str, typer.Option(help="Last local day of the window, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="CSV file, or Parquet if it ends in .parquet.")],
    days: Annotated[int, typer.Option(help="Window length in local days.")] = 14,
    hours: Annotated[float, typer.Option(help="Stay threshold in hours.")] = 4.0,
    rule: Annotated[
        str, typer.Option(help="dwell (continuous stay) or span (official).")
    ] = "dwell",
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = None,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Export one row per subscriber and place visited in the window (processing what it needs)."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise fail(f"--date must be YYYY-MM-DD, got {date!r}") from None
    try:
        itinerary_params(days, hours, rule)  # a wrong option fails before any progress shows
        with window_progress(data, day, days) as progress:
            table = itineraries_for_date(
                data,
                day,
                days=days,
                hours=hours,
                rule=rule,
                engine=engine_config(engine, spark_master),
                on_day=progress.on_day,
                on_step=progress.on_step,
            )
    except (ItineraryError, NoEventsError) as e:
        raise fail(str(e)) from None
    export_table(table, out)
    n_subs = len(pc.unique(table["subscriber"]))
    computed = (table.schema.metadata or {}).get(b"computed_at", b"").decode()
    console.print(
        f"{table.num_rows:,} rows for {n_subs:,} subscribers → {out} (computed {computed})"
    )


def home(
    start: Annotated[str, typer.Option(help="First local day of the baseline, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option(help="Last local day of the baseline, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="Parquet or CSV file for the homes.")],
    engine: EngineOption = "duckdb",
    spark_master: MasterOption = None,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Home county of each subscriber: the modal night-time county over the baseline."""
    try:
        first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    except ValueError:
        raise fail("--start and --end must be YYYY-MM-DD") from None
    if last < first:
        raise fail("--end is before --start")
    with step_spinner() as bar:
        task = bar.add_task(f"homes from the nights of {first} … {last}", total=None)
        table = homes_for_period(
            data,
            first,
            last,
            engine_config(engine, spark_master),
            on_step=lambda name, percent: bar.update(task, step=name, percent=percent),
        )
    write_export(table, out)
    console.print(f"{table.num_rows:,} subscribers with a home → {out}")
