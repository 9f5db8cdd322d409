"""The ground truth is consistent with itself and with the behaviours it records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from episignal.simulate.truth import true_itineraries

FOUR_HOURS_S = 4 * 3600


def _truth(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    stays = pq.read_table(data / "truth" / "stays.parquet").to_pandas()
    subs = pq.read_table(data / "truth" / "subscribers.parquet").to_pandas()
    return stays, subs


def test_stays_follow_each_other_without_overlap(baseline: Path) -> None:
    stays, _ = _truth(baseline)
    s = stays.sort_values(["msisdn", "arrival_utc_s"])
    assert (s.departure_utc_s > s.arrival_utc_s).all()
    same = s.msisdn.eq(s.msisdn.shift())
    assert (s.arrival_utc_s[same] >= s.departure_utc_s.shift()[same]).all()
    # Consecutive stays in the same place are merged unless something (a flight) separates them.
    touching = same & s.arrival_utc_s.eq(s.departure_utc_s.shift())
    assert not (touching & s.place_code.eq(s.place_code.shift())).any()


def test_transit_passes_are_short_presence(baseline: Path) -> None:
    stays, subs = _truth(baseline)
    passes = stays[stays.on_the_move]
    assert len(passes) > 0
    assert ((passes.departure_utc_s - passes.arrival_utc_s) < FOUR_HOURS_S).all()
    assert set(passes.msisdn) == set(subs.msisdn[subs.transit])


def test_border_residents_true_itinerary_is_their_own_city(baseline: Path) -> None:
    _, subs = _truth(baseline)
    stayers = subs[subs.border_resident & ~subs.traveller & ~subs.roaming & ~subs.new_sim]
    assert len(stayers) > 10
    itins = true_itineraries(
        pq.read_table(baseline / "truth" / "stays.parquet"), dt.date(2020, 11, 15)
    ).to_pandas()
    got = itins[itins.msisdn.isin(stayers.msisdn)].merge(stayers, on="msisdn")
    assert (got.place_code == got.home_prefecture).all()
    assert set(got.msisdn) == set(stayers.msisdn)


def test_roaming_subscribers_visit_a_country(baseline: Path) -> None:
    stays, subs = _truth(baseline)
    abroad = stays[stays.place_code.str.len() == 2]
    assert subs.roaming.sum() > 0
    assert set(abroad.msisdn) == set(subs.msisdn[subs.roaming])
    assert (abroad.county_code == "").all()


def test_nothing_before_a_new_sim_is_activated(baseline: Path) -> None:
    stays, subs = _truth(baseline)
    new = subs[subs.new_sim]
    assert len(new) > 0
    first = stays.groupby("msisdn").arrival_utc_s.min()
    assert (first[new.msisdn].to_numpy() >= new.activation_utc_s.to_numpy()).all()


def test_true_itinerary_needs_four_hours_in_the_window_but_any_time_abroad() -> None:
    day = dt.date(2020, 1, 20)
    midnight = int(dt.datetime(2020, 1, 20, tzinfo=dt.timezone(dt.timedelta(hours=8))).timestamp())
    hour = 3600
    stays = pa.table(
        {
            "msisdn": ["1", "1", "1", "2"],
            "place_code": ["420100", "420900", "JP", "110000"],
            "county_code": ["420102", "420902", "", "110101"],
            "arrival_utc_s": [
                midnight,
                midnight + 5 * hour,
                midnight + 6 * hour,
                midnight - 20 * 86400,
            ],
            # Subscriber 2 left Beijing the day before the 14-day window began.
            "departure_utc_s": [
                midnight + 5 * hour,
                midnight + 6 * hour,
                midnight + 6 * hour + 60,
                midnight - 13 * 86400 - hour,
            ],
            "on_the_move": [False, True, False, False],
        }
    )
    got = true_itineraries(stays, day, days=14, hours=4).to_pandas()
    assert set(zip(got.msisdn, got.place_code, strict=True)) == {("1", "420100"), ("1", "JP")}
