"""Home location: where the phone sleeps most nights, not where it works."""

from __future__ import annotations

from pathlib import Path

from episignal.engine.home import homes_for_period
from episignal.privacy.pseudonym import Pseudonymiser
from tests.core_world import DAY0, at, every, ingest

NUMBER = "+8613800138000"


def test_home_is_the_county_of_most_nights_not_of_the_working_day(tmp_path: Path) -> None:
    data = tmp_path / "data"
    timeline = []
    for day in range(5):
        timeline += every(at(day, "00:00"), at(day, "07:30"), "46000-2-2", minutes=30)  # 孝感
        timeline += every(at(day, "09:00"), at(day, "18:00"), "46000-1-1", minutes=30)  # 武汉
        timeline += every(at(day, "20:00"), at(day, "23:30"), "46000-2-2", minutes=30)
    timeline += every(at(5, "00:00"), at(5, "05:00"), "46000-5-1", minutes=30)  # one night in 北京
    ingest(data, {NUMBER: timeline})
    table = homes_for_period(data, DAY0, DAY0.replace(day=DAY0.day + 5)).to_pylist()
    me = Pseudonymiser.for_data_dir(data)(NUMBER)
    (row,) = [r for r in table if r["subscriber"] == me]
    assert (row["home_county"], row["home_place"]) == ("420902", "420900")
    assert row["nights"] == 6  # the early hours of day 0 belong to the night before it
