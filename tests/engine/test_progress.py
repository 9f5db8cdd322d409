"""What the progress bars say while the engine works: the step under way and how far it is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rich.progress import Progress

from episignal.cli_common import StepColumn
from episignal.engine.itinerary import itineraries_for_date
from tests.core_world import DAY0, at, every, ingest

NUMBER = "+8613800138000"


def test_the_steps_of_the_work_are_named_in_order_with_a_percent_that_is_a_percent(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ingest(data, {NUMBER: every(at(0, "09:00"), at(1, "14:00"), "46000-2-2")})
    seen: list[tuple[str, float | None]] = []
    itineraries_for_date(
        data,
        DAY0 + dt.timedelta(days=1),
        days=2,
        on_step=lambda name, percent: seen.append((name, percent())),
    )
    assert [name for name, _ in seen] == [
        "numbering subscribers",
        "sorting records",
        "change points",
        "runs",
        "stays and spans",
        "itineraries",
    ]
    # Asked between queries, DuckDB has no query running: no figure rather than a made-up one.
    assert all(p is None or 0 <= p <= 100 for _, p in seen)


def test_the_step_column_shows_the_step_and_the_running_query_percent() -> None:
    column = StepColumn()
    progress = Progress(column)
    task_id = progress.add_task("stays per day", total=14)
    task = progress.tasks[task_id]
    assert column.render(task).plain == ""
    progress.update(task_id, step="sorting records", percent=lambda: 43.4)
    assert column.render(task).plain == "sorting records 43 %"
    progress.update(task_id, step="runs", percent=lambda: None)  # nothing running: no figure
    assert column.render(task).plain == "runs"


def test_the_home_command_names_its_steps(tmp_path: Path) -> None:
    from episignal.engine.home import homes_for_period

    data = tmp_path / "data"
    ingest(data, {NUMBER: every(at(0, "21:00"), at(1, "07:00"), "46000-2-2")})
    seen: list[str] = []
    table = homes_for_period(data, DAY0, DAY0, on_step=lambda name, _percent: seen.append(name))
    assert seen == ["numbering subscribers", "nights"]
    assert table.num_rows == 1


def test_the_percent_of_a_closed_connection_is_no_figure_not_an_error() -> None:
    # The bar's refresh thread may ask once more after the work's connection has closed.
    from episignal.engine.backend import duckdb_connection, query_percent

    con = duckdb_connection()
    percent = query_percent(con)
    assert percent() is None  # nothing running
    con.con.close()
    assert percent() is None
