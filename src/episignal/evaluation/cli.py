"""`episignal evaluate`: the pipeline's itineraries against the simulator's truth."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import pyarrow as pa
import pyarrow.parquet as pq
import typer
from rich.table import Table

from episignal.cli_common import DEFAULT_DATA, DataDirOption, console, fail
from episignal.evaluation.metrics import HARD_GROUPS, EvaluationReport, evaluate
from episignal.layout import Layout
from episignal.privacy.pseudonym import Pseudonymiser
from episignal.simulate.truth import true_itineraries

RULES = ("dwell", "span")


def load_truth(data: Path, date: dt.date, days: int, hours: float) -> tuple[pa.Table, pa.Table]:
    """(true pairs, groups), both keyed by pseudonymised subscriber."""
    truth_dir = Layout(data).truth
    stays = pq.read_table(truth_dir / "stays.parquet")
    subs = pq.read_table(truth_dir / "subscribers.parquet")
    pseudonym = Pseudonymiser.for_data_dir(data)
    mapping = {m: pseudonym.of_e164(m) for m in subs["msisdn"].to_pylist()}
    itins = true_itineraries(stays, date, days, hours)
    truth = pa.table(
        {
            "subscriber": [mapping[m] for m in itins["msisdn"].to_pylist()],
            "place_code": itins["place_code"],
        }
    )
    groups = subs.select(list(HARD_GROUPS)).append_column(
        "subscriber", pa.array([mapping[m] for m in subs["msisdn"].to_pylist()])
    )
    return truth, groups


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
    from episignal.engine.itinerary import itineraries_for_date

    truth_dir = Layout(data).truth
    if not (truth_dir / "stays.parquet").exists():
        raise fail(f"no simulator truth in {truth_dir}; run `episignal simulate` first")
    if date is None:
        manifest = json.loads((truth_dir / "manifest.json").read_text())
        day = dt.date.fromisoformat(manifest["start"]) + dt.timedelta(days=manifest["days"] - 1)
    else:
        day = date.date()
    truth, groups = load_truth(data, day, days, hours)
    predicted = {
        rule: itineraries_for_date(data, day, days=days, hours=hours, rule=rule) for rule in RULES
    }
    report = evaluate(truth, predicted, groups)
    report.context = {"date": day.isoformat(), "days": days, "hours": hours}
    console.print(render(report))
    if json_out is not None:
        json_out.write_text(json.dumps(report.as_json(), indent=2) + "\n")
    if exposure:
        from episignal.exposure.cli import evaluate as evaluate_exposure

        console.rule("exposure notification vs the crowd's ground truth")
        evaluate_exposure(data=data)
