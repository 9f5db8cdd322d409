"""The stay rules, as a subscriber would see them on the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from episignal.engine.itinerary import ItineraryError, itineraries_for_date
from episignal.privacy.pseudonym import Pseudonymiser
from tests.core_world import (
    BEIJING,
    DAY0,
    EZHOU,
    HUANGGANG,
    WUHAN,
    XIAOGAN,
    at,
    every,
    ingest,
)

NUMBER = "+8613800138000"


def places(
    data: Path, rule: str = "dwell", day: int = 0, days: int = 14, hours: float = 4
) -> set[str]:
    import datetime as dt

    table = itineraries_for_date(
        data, DAY0 + dt.timedelta(days=day), days=days, hours=hours, rule=rule
    )
    me = Pseudonymiser.for_data_dir(data)(NUMBER)
    return {r["place_code"] for r in table.to_pylist() if r["subscriber"] == me}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_five_hour_visit_lists_the_city_under_both_rules(data: Path) -> None:
    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "14:00"), "46000-2-2")})
    assert places(data, "dwell") == {XIAOGAN}
    assert places(data, "span") == {XIAOGAN}


def test_result_says_when_it_was_computed(data: Path) -> None:
    import datetime as dt

    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "14:00"), "46000-2-2")})
    table = itineraries_for_date(data, DAY0)
    computed = dt.datetime.fromisoformat(table.schema.metadata[b"computed_at"].decode())
    assert abs((dt.datetime.now(dt.UTC) - computed).total_seconds()) < 600


def test_three_hour_visit_is_not_listed(data: Path) -> None:
    ingest(
        data,
        {
            NUMBER: every(at(0, "06:00"), at(0, "09:00"), "46000-1-1")
            + every(at(0, "09:30"), at(0, "12:30"), "46000-4-1")
            + every(at(0, "13:00"), at(0, "23:00"), "46000-1-1")
        },
    )
    assert places(data) == {WUHAN}


def test_transit_through_a_city_on_the_train_is_not_a_stay(data: Path) -> None:
    ingest(
        data,
        {
            NUMBER: every(at(0, "00:00"), at(0, "08:00"), "46000-1-1")
            + every(at(0, "08:20"), at(0, "08:50"), "46000-3-1", minutes=5)
            + every(at(0, "09:10"), at(0, "22:00"), "46000-4-1")
        },
    )
    assert EZHOU not in places(data)
    assert places(data) == {WUHAN, HUANGGANG}


def test_same_day_round_trip_through_a_city_fools_span_but_not_dwell(data: Path) -> None:
    # Passing through 鄂州 at 08:30 and again at 18:30: the official rule sees 10 hours.
    ingest(
        data,
        {
            NUMBER: every(at(0, "00:00"), at(0, "08:00"), "46000-1-1")
            + every(at(0, "08:20"), at(0, "08:40"), "46000-3-1", minutes=5)
            + every(at(0, "09:00"), at(0, "18:00"), "46000-4-1")
            + every(at(0, "18:20"), at(0, "18:40"), "46000-3-1", minutes=5)
            + every(at(0, "19:00"), at(0, "23:45"), "46000-1-1")
        },
    )
    assert EZHOU in places(data, "span")
    assert EZHOU not in places(data, "dwell")


def test_border_resident_whose_phone_camps_on_the_neighbours_cells_stays_home(data: Path) -> None:
    # Lives in 武汉 by the 孝感 border: days in central 武汉, nights flipping between border cells,
    # with a 6-hour stretch on one 孝感 cell.
    timeline = []
    for day in range(3):
        timeline += every(at(day, "08:00"), at(day, "18:00"), "46000-1-1")
        timeline += every(at(day, "18:30"), at(day, "20:00"), "46000-1-2")
        timeline += every(at(day, "20:15"), at(day, "23:59"), "46000-2-1", minutes=20)
        timeline += every(at(day + 1, "00:00"), at(day + 1, "02:00"), "46000-1-2", minutes=20)
        timeline += every(at(day + 1, "02:20"), at(day + 1, "07:40"), "46000-2-1", minutes=20)
    ingest(data, {NUMBER: timeline})
    assert XIAOGAN in places(data, "span", day=2)
    assert places(data, "dwell", day=2) == {WUHAN}


def test_working_in_the_neighbours_border_zone_is_a_visit(data: Path) -> None:
    # Lives in central 武汉, works just inside 孝感: at work the phone is mostly on 孝感's border
    # cell and now and then on 武汉's; the anchor (home) says 武汉, the records say 孝感.
    work = []
    for hour in range(9, 18):
        work += every(at(0, f"{hour:02d}:00"), at(0, f"{hour:02d}:40"), "46000-2-1", minutes=10)
        work += [(at(0, f"{hour:02d}:50"), "46000-1-2")]
    ingest(
        data,
        {
            NUMBER: every(at(0, "00:00"), at(0, "08:00"), "46000-1-1")
            + every(at(0, "08:20"), at(0, "08:50"), "46000-1-2", minutes=10)
            + work
            + every(at(0, "18:20"), at(0, "23:50"), "46000-1-1")
        },
    )
    assert places(data) == {WUHAN, XIAOGAN}


def test_going_into_the_neighbouring_city_is_a_visit(data: Path) -> None:
    ingest(
        data,
        {
            NUMBER: every(at(0, "07:00"), at(0, "09:00"), "46000-1-1")
            + every(at(0, "09:15"), at(0, "09:30"), "46000-2-1")
            + every(at(0, "09:45"), at(0, "15:00"), "46000-2-2")
            + every(at(0, "15:15"), at(0, "23:00"), "46000-1-1")
        },
    )
    assert places(data) == {WUHAN, XIAOGAN}


def test_a_night_with_the_phone_off_counts_as_presence(data: Path) -> None:
    # Arrives in 北京 at 20:00, phone off 23:00-07:00, leaves at 09:00: 13 hours, never 4 in a row
    # of records.
    ingest(
        data,
        {
            NUMBER: every(at(0, "20:00"), at(0, "23:00"), "46000-5-1", minutes=30)
            + every(at(1, "07:00"), at(1, "09:00"), "46000-5-1", minutes=30)
            + every(at(1, "13:00"), at(1, "23:00"), "46000-1-1", minutes=30)
        },
    )
    assert BEIJING in places(data, day=1)


def test_a_lone_glitch_record_far_away_does_not_break_a_stay(data: Path) -> None:
    base = every(at(0, "08:00"), at(0, "10:00"), "46000-2-2") + every(
        at(0, "10:45"), at(0, "13:00"), "46000-2-2"
    )
    glitch = [(at(0, "10:30"), "46000-5-1")]  # 北京, 1,000 km away, 30 minutes apart
    ingest(data, {NUMBER: sorted(base + glitch)})
    assert places(data) == {XIAOGAN}


def test_a_country_abroad_is_listed_on_any_presence(data: Path) -> None:
    ingest(data, {NUMBER: [(at(0, "10:00"), "44010-1-1"), (at(0, "10:30"), "44010-1-1")]})
    assert places(data) == {"JP"}


def test_window_of_seven_days_forgets_what_fourteen_remember(data: Path) -> None:
    ingest(
        data,
        {
            NUMBER: every(at(0, "08:00"), at(0, "18:00"), "46000-5-1")
            + every(at(10, "08:00"), at(10, "18:00"), "46000-2-2")
        },
    )
    assert places(data, day=10, days=14) == {BEIJING, XIAOGAN}
    assert places(data, day=10, days=7) == {XIAOGAN}


def test_hours_threshold_is_a_parameter(data: Path) -> None:
    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "11:30"), "46000-2-2")})
    assert places(data, hours=4) == set()
    assert places(data, hours=2) == {XIAOGAN}


def test_unsupported_requests_are_refused_with_a_reason(data: Path) -> None:
    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "11:30"), "46000-2-2")})
    with pytest.raises(ItineraryError, match="window"):
        places(data, days=0)
    with pytest.raises(ItineraryError, match="hours"):
        places(data, hours=13)
    with pytest.raises(ItineraryError, match="rule"):
        places(data, rule="majority")
    with pytest.raises(ItineraryError, match="no events"):
        places(data, day=100)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--days", "45"], "window of 45 days not supported"),
        (["--hours", "0"], "hours must be more than 0"),
        (["--rule", "longest"], "unknown rule 'longest'"),
        (["--date", "2020-02-30"], "--date must be YYYY-MM-DD"),
    ],
)
def test_a_wrong_itinerary_option_is_named_before_any_work_starts(
    data: Path, tmp_path: Path, option: list[str], message: str
) -> None:
    from typer.testing import CliRunner

    from episignal.cli import app

    ingest(data, {NUMBER: every(at(0, "09:00"), at(0, "14:00"), "46000-2-2")})
    args = ["itinerary", "--date", DAY0.isoformat(), "--out", str(tmp_path / "it.csv")]
    result = CliRunner().invoke(app, [*args, *option, "--data", str(data)])
    assert result.exit_code == 2
    assert message in result.output
    assert "stays per day" not in result.output  # no progress shown for work that never starts
    assert not (data / "stays").exists()  # and no day was processed
