"""`episignal simulate`: write a scenario's carrier exports and its ground truth."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from episignal.cli_common import DEFAULT_DATA, DataDirOption, console, fail
from episignal.simulate import scenarios as sc
from episignal.simulate.run import chunk_size_for, default_workers, simulate_to


def simulate(
    scenario: Annotated[
        str, typer.Option(help=f"Scenario: {', '.join(sc.SCENARIOS)}.")
    ] = "baseline",
    subscribers: Annotated[int, typer.Option(min=1, help="Number of subscribers.")] = 10_000,
    days: Annotated[
        int | None, typer.Option(min=1, help="Days simulated (default: the scenario's).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same files.")] = 1,
    start: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="First local day (default: the scenario's)."),
    ] = None,
    canonical: Annotated[
        bool, typer.Option("--canonical", help="Also write the canonical CSV format.")
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Worker processes (default: one per core); same output."),
    ] = None,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Simulate subscribers' signaling into DATA/raw (carrier exports) and DATA/truth."""
    try:
        chosen = sc.scenario(scenario, start.date() if start else None, days)
    except sc.UnknownScenario as exc:
        raise fail(str(exc)) from None
    chunk = chunk_size_for(chosen.days)
    n_chunks = -(-subscribers // chunk)
    with Progress(
        TextColumn("[bold]simulate[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("chunks · {task.fields[events]:,} events"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(chosen.name, total=n_chunks, events=0)

        def on_chunk(part: int, n: int, events: int) -> None:
            done = progress.tasks[task].fields["events"] + events
            progress.update(task, advance=1, events=done)

        summary = simulate_to(
            data,
            chosen.name,
            subscribers,
            chosen.days,
            seed,
            chosen.start,
            canonical,
            on_chunk=on_chunk,
            workers=workers or default_workers(),
        )
    rate = summary.events / max(summary.seconds, 1e-9)
    console.print(
        f"{summary.subscribers:,} subscribers × {summary.days} days from {summary.start}: "
        f"{summary.events:,} events ({summary.events_per_subscriber_day:.1f} per subscriber-day) "
        f"in {summary.seconds:.1f} s ({rate:,.0f} events/s) → {data}/raw, {data}/truth"
    )
