"""Properties of itineraries over random timelines: what a subscriber or an analyst relies on
whatever the records look like."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from episignal.engine.itinerary import itineraries_for_date
from episignal.privacy.pseudonym import Pseudonymiser
from tests.core_world import CELLS, DAY0, at, ingest

pytestmark = pytest.mark.slow  # each example ingests and processes a small feed

DAYS = 3
LAST_DAY = DAY0 + dt.timedelta(days=DAYS - 1)
NUMBERS = ("+8613800138001", "+8613800138002", "+8613800138003")
CELL_IDS = [c[0] for c in CELLS]

# A segment: (cell, minutes there, minutes between records, minutes of silence after it).
segment = st.tuples(
    st.sampled_from(CELL_IDS),
    st.integers(5, 9 * 60),
    st.integers(3, 75),
    st.sampled_from([0, 0, 0, 20, 90, 8 * 60]),
)
timeline_spec = st.tuples(st.integers(0, 12 * 60), st.lists(segment, min_size=1, max_size=14))


def timeline(spec: tuple[int, list[tuple[str, int, int, int]]]) -> list[tuple]:
    """Records of one subscriber: the segments over and over until the end of the last day (so
    every day has records: silences are at most 8 hours)."""
    start, segments = spec
    end = at(DAYS, "00:00")
    t, out = at(0, "00:00") + dt.timedelta(minutes=start), []
    while t < end:
        for cell, minutes, step, silence in segments:
            stop = min(t + dt.timedelta(minutes=minutes), end)
            while t < stop:
                out.append((t, cell))
                t += dt.timedelta(minutes=step)
            t = stop + dt.timedelta(minutes=silence)
    return out


def itinerary_rows(data: Path, **kwargs) -> dict[str, set[tuple]]:
    """Each subscriber's (place, first arrival, last departure) rows for the last day."""
    out: dict[str, set[tuple]] = {}
    for r in itineraries_for_date(data, LAST_DAY, **kwargs).to_pylist():
        row = (r["place_code"], r["first_arrival"], r["last_departure"])
        out.setdefault(r["subscriber"], set()).add(row)
    return out


def itinerary_places(data: Path, **kwargs) -> dict[str, set[str]]:
    return {s: {row[0] for row in rows} for s, rows in itinerary_rows(data, **kwargs).items()}


PROPERTY_SETTINGS = settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(specs=st.lists(timeline_spec, min_size=2, max_size=3))
def test_a_subscribers_itinerary_does_not_depend_on_anyone_elses_records(
    specs: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EPISIGNAL_PSEUDONYM_KEY", "33" * 32)  # one subscriber, two datasets
    timelines = {n: timeline(s) for n, s in zip(NUMBERS, specs, strict=False)}
    number = NUMBERS[0]
    with tempfile.TemporaryDirectory() as tmp:
        alone, together = Path(tmp) / "alone" / "data", Path(tmp) / "together" / "data"
        alone.parent.mkdir()
        together.parent.mkdir()
        ingest(alone, {number: timelines[number]})
        ingest(together, timelines)
        me = Pseudonymiser.for_data_dir(alone)(number)
        for rule in ("dwell", "span"):
            mine = itinerary_rows(alone, rule=rule).get(me)
            assert mine == itinerary_rows(together, rule=rule).get(me), rule


@PROPERTY_SETTINGS
@given(specs=st.lists(timeline_spec, min_size=1, max_size=3))
def test_a_longer_threshold_or_a_shorter_window_never_adds_a_place(specs: list) -> None:
    timelines = {n: timeline(s) for n, s in zip(NUMBERS, specs, strict=False)}
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        ingest(data, timelines)
        for rule in ("dwell", "span"):
            by_hours = [itinerary_places(data, rule=rule, hours=h) for h in (2, 4, 6)]
            by_days = [itinerary_places(data, rule=rule, days=d) for d in (1, 2, 3)]
            for s in {s for listed in by_hours + by_days for s in listed}:
                hours = [listed.get(s, set()) for listed in by_hours]
                assert hours[0] >= hours[1] >= hours[2], rule
                days = [listed.get(s, set()) for listed in by_days]
                assert days[0] <= days[1] <= days[2], rule
            for rows in itinerary_rows(data, rule=rule).values():
                assert all(first <= last for _place, first, last in rows), rule
