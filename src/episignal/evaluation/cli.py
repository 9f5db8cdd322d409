"""`episignal evaluate`: the pipeline's itineraries against the simulator's truth."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from episignal.cli_common import DEFAULT_DATA, DataDirOption, console, fail, output_file
from episignal.evaluation.errors import border_odds, cause_counts, classify_errors
from episignal.evaluation.metrics import HARD_GROUPS, EvaluationReport, evaluate
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.pseudonym import Pseudonymiser
from episignal.simulate.truth import true_itineraries

RULES = ("dwell", "span")


@dataclass(frozen=True)
class Truth:
    """The simulator's truth for one date, keyed by pseudonymised subscriber."""

    pairs: pa.Table  # (subscriber, place_code): the true itineraries
    groups: pa.Table  # subscriber + one boolean column per hard group
    stays: pa.Table  # (subscriber, place_code, arrival_utc_s, departure_utc_s)


def load_truth(data: Path, date: dt.date, days: int, hours: float) -> Truth:
    truth_dir = Layout(data).truth
    stays = pq.read_table(truth_dir / "stays.parquet")
    subs = pq.read_table(truth_dir / "subscribers.parquet")
    pseudonym = Pseudonymiser.for_data_dir(data)
    mapping = {m: pseudonym.of_e164(m) for m in subs["msisdn"].to_pylist()}

    def keyed(msisdn: pa.ChunkedArray) -> pa.Array:
        return pa.array([mapping[m] for m in msisdn.to_pylist()], pa.string())

    itins = true_itineraries(stays, date, days, hours)
    return Truth(
        pairs=pa.table({"subscriber": keyed(itins["msisdn"]), "place_code": itins["place_code"]}),
        groups=subs.select(list(HARD_GROUPS)).append_column("subscriber", keyed(subs["msisdn"])),
        stays=stays.select(["place_code", "arrival_utc_s", "departure_utc_s"]).add_column(
            0, "subscriber", keyed(stays["msisdn"])
        ),
    )


def load_records(data: Path, window: tuple[int, int]) -> pa.Table:
    """(subscriber, ts_utc_s, place_code, alt_place) of the ingested events in the window."""
    layout = Layout(data)
    events = [str(f) for f in VersionedDataset(layout.events).files()]
    cells = [str(f) for f in VersionedDataset(layout.cells).files()]
    con = duckdb.connect()
    try:
        e = con.read_parquet(events).select("subscriber, ts_utc_s, cell_id")
        e = e.filter(f"ts_utc_s >= {int(window[0])} and ts_utc_s < {int(window[1])}")
        c = con.read_parquet(cells).select("cell_id, place_code, alt_place")
        return (
            e.join(c, "cell_id")
            .select("subscriber, ts_utc_s, place_code, alt_place")
            .arrow()
            .read_all()
        )
    finally:
        con.close()


def render_causes(causes: dict[str, dict[str, dict[str, int]]]) -> Table:
    table = Table(title="why places are wrong (docs/stay-rules.md)")
    for col in ("rule", "wrong", "cause", "places"):
        table.add_column(col, justify="right" if col == "places" else "left")
    for rule, kinds in causes.items():
        for kind, counts in kinds.items():
            for cause, n in counts.items():
                table.add_row(rule, kind, cause, f"{n:,}")
    return table


def render_odds(odds: dict[str, int]) -> str:
    total = sum(odds.values())
    if not total:
        return "no subscriber was seen on border cells only"
    own, alt = odds["own"] / total, odds["alt"] / total
    return (
        f"subscribers seen on border cells only: {total:,} records, {own:.1%} truly in the "
        f"cell's own place, {alt:.1%} in its alternate (the odds behind border_records_there)"
    )


def render(report: EvaluationReport) -> Table:
    table = Table(title=f"itineraries vs truth · {report.context.get('date', '')}")
    for col in ("rule", "group", "subscribers", "true", "listed", "precision", "recall"):
        table.add_column(col, justify="left" if col in ("rule", "group") else "right")
    for r in report.rows:
        table.add_row(
            r.rule,
            r.group,
            f"{r.subscribers:,}",
            f"{r.true_places:,}",
            f"{r.listed_places:,}",
            f"{r.precision:.2%}",
            f"{r.recall:.2%}",
        )
    return table


def evaluate_cmd(
    date: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="Itinerary date (default: last simulated day)."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=31, help="Window in days.")] = 14,
    hours: Annotated[
        float,
        typer.Option(min=0.1, max=12, help="Stay threshold in hours (at most the lookback, 12)."),
    ] = 4.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the metrics as JSON here.")
    ] = None,
    exposure: Annotated[
        bool,
        typer.Option(
            "--exposure", help="Also evaluate exposure notification on a simulated crowd."
        ),
    ] = False,
    data: DataDirOption = DEFAULT_DATA,
) -> None:
    """Precision and recall of listed places, per rule, overall and for the hard groups."""
    from episignal.engine.cli import window_progress
    from episignal.engine.itinerary import ItineraryError, itineraries_for_date
    from episignal.engine.process import NoEventsError, epoch_day
    from episignal.engine.spans import local_midnight_utc_s

    truth_dir = Layout(data).truth
    if not (truth_dir / "stays.parquet").exists():
        raise fail(f"no simulator truth in {truth_dir}; run `episignal simulate` first")
    if date is None:
        manifest = json.loads((truth_dir / "manifest.json").read_text())
        day = dt.date.fromisoformat(manifest["start"]) + dt.timedelta(days=manifest["days"] - 1)
    else:
        day = date.date()
    truth = load_truth(data, day, days, hours)
    try:
        with window_progress(data, day, days) as progress:
            predicted = {
                rule: itineraries_for_date(
                    data,
                    day,
                    days=days,
                    hours=hours,
                    rule=rule,
                    on_day=progress.on_day,
                    on_step=progress.on_step,
                )
                for rule in RULES
            }
    except (ItineraryError, NoEventsError) as e:
        raise fail(f"{e}; ingest the simulated feeds first") from None
    report = evaluate(truth.pairs, predicted, truth.groups)
    window = (
        local_midnight_utc_s(epoch_day(day - dt.timedelta(days=days - 1))),
        local_midnight_utc_s(epoch_day(day) + 1),
    )
    causes = {}
    with console.status("why places are wrong: reading the records in the window"):
        records = load_records(data, window)
        for rule, listed in predicted.items():
            false_places, missed = classify_errors(
                truth.stays,
                truth.pairs,
                listed.select(["subscriber", "place_code"]),
                records,
                window,
                hours,
            )
            causes[rule] = cause_counts(false_places, missed)
        odds = border_odds(truth.stays, records, window)
    report.context = {
        "date": day.isoformat(),
        "days": days,
        "hours": hours,
        "causes": causes,
        "border_odds": odds,
    }
    console.print(render(report))
    console.print(render_causes(causes))
    console.print(render_odds(odds))
    if json_out is not None:
        with output_file(json_out) as tmp:
            tmp.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if exposure:
        from episignal.exposure.cli import evaluate as evaluate_exposure

        console.rule("exposure notification vs the crowd's ground truth")
        evaluate_exposure(data=data)
