"""The silences between stays: how much of them a stay is credited (docs/stay-rules.md §3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from episignal.engine.itinerary import itineraries_for_date
from episignal.engine.params import Attribution, StayParams
from episignal.engine.process import ProcessParams, process_days
from episignal.lake import VersionedDataset
from episignal.layout import Layout
from episignal.privacy.pseudonym import Pseudonymiser
from tests.core_world import BEIJING, DAY0, HUANGGANG, WUHAN, at, every, ingest

NUMBER = "+8613800138000"
# Wuhan until 07:00; four silent hours; records in Huanggang 11:00-13:40; forty silent minutes;
# Wuhan again from 14:20.
TIMELINE = {
    NUMBER: every(at(0, "00:00"), at(0, "07:00"), "46000-1-1", minutes=30)
    + every(at(0, "11:00"), at(0, "13:40"), "46000-4-1", minutes=10)
    + every(at(0, "14:20"), at(0, "23:00"), "46000-1-1", minutes=30)
}


def _place_stays(data: Path) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    files = VersionedDataset(Layout(data).stays).files()
    rows = duckdb.sql(
        f"SELECT place, arrival_utc_s, departure_utc_s FROM read_parquet({[str(f) for f in files]})"
        " WHERE level = 'place' ORDER BY arrival_utc_s"
    ).fetchall()
    out: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for place, arrival, departure in rows:
        out.setdefault(place, []).append(
            (
                dt.datetime.fromtimestamp(arrival, dt.UTC),
                dt.datetime.fromtimestamp(departure, dt.UTC),
            )
        )
    return out


def test_midpoint_credits_half_of_each_silence_at_most_an_hour(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ingest(data, TIMELINE)
    table = itineraries_for_date(data, DAY0, days=1, hours=4)
    me = Pseudonymiser.for_data_dir(data)(NUMBER)
    mine = {r["place_code"]: r for r in table.to_pylist() if r["subscriber"] == me}
    # Half of the four hours before is two, capped to one: arrival 10:00. Half of the forty
    # minutes after is twenty: departure 14:00. Four hours exactly: listed at 4 h.
    assert mine[HUANGGANG]["first_arrival"] == at(0, "10:00")
    assert mine[HUANGGANG]["last_departure"] == at(0, "14:00")
    assert set(mine) == {WUHAN, HUANGGANG}
    later = itineraries_for_date(data, DAY0, days=1, hours=4.5)
    assert {r["place_code"] for r in later.to_pylist() if r["subscriber"] == me} == {WUHAN}


def test_previous_credits_each_silence_to_the_stay_before_it_at_most_an_hour(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    ingest(data, TIMELINE)
    stay = StayParams(attribution=Attribution.PREVIOUS)
    process_days(data, [DAY0], params=ProcessParams(stay=stay))
    stays = _place_stays(data)
    # Wuhan keeps one hour of the four silent ones; Huanggang starts at its first record and
    # keeps the whole forty minutes after its last.
    assert stays[WUHAN][0][1] == at(0, "08:00")
    assert stays[HUANGGANG] == [(at(0, "11:00"), at(0, "14:20"))]
    assert stays[WUHAN][1][0] == at(0, "14:20")


@pytest.mark.parametrize("minutes", [60.0, 90.0, 600.0])
def test_the_credit_is_the_cap_whatever_the_silence_beyond_it(
    tmp_path: Path, minutes: float
) -> None:
    data = tmp_path / "data"
    ingest(data, TIMELINE)
    process_days(data, [DAY0], params=ProcessParams(stay=StayParams(max_credit_minutes=minutes)))
    stays = _place_stays(data)
    credit = dt.timedelta(minutes=min(minutes, 120))
    # Half of the four silent hours (two) goes to each side, up to the cap; half of the forty
    # minutes after Huanggang (twenty) is under every cap.
    assert stays[WUHAN][0][1] == at(0, "07:00") + credit
    assert stays[HUANGGANG] == [(at(0, "11:00") - credit, at(0, "14:00"))]


def test_a_stay_that_ends_before_midnight_is_credited_the_silence_up_to_the_next_days_record(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    # Beijing 19:00-22:30, three silent hours across midnight, Huanggang from 01:30 the next day.
    evening = {
        NUMBER: every(at(0, "19:00"), at(0, "22:30"), "46000-5-1")
        + every(at(1, "01:30"), at(1, "06:00"), "46000-4-1")
    }
    ingest(data, evening)
    me = Pseudonymiser.for_data_dir(data)(NUMBER)
    both_days = itineraries_for_date(data, DAY0 + dt.timedelta(days=1), days=2, hours=4)
    mine = {r["place_code"]: r for r in both_days.to_pylist() if r["subscriber"] == me}
    # Half of the three hours is an hour and a half, capped to one: Beijing 19:00-23:30, 4.5 h,
    # though only the next day's records show where the silence ends. Huanggang gets its hour.
    assert mine[BEIJING]["last_departure"] == at(0, "23:30")
    assert mine[BEIJING]["first_arrival"] == at(0, "19:00")
    assert mine[HUANGGANG]["first_arrival"] == at(1, "00:30")
    # The day alone (one day's lag: the next day's records are not in yet) cannot credit it.
    first_day = itineraries_for_date(data, DAY0, days=1, hours=4)
    assert BEIJING not in {r["place_code"] for r in first_day.to_pylist() if r["subscriber"] == me}
