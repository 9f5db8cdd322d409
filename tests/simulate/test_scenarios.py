"""Scenarios show the population movements they are named after."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
WUHAN = "420100"


def _departures(data: Path, home: str | None = None) -> pd.DataFrame:
    """Each resident's moves out of their home city: departure time and next real (≥ 1 h) place."""
    stays = pq.read_table(data / "truth" / "stays.parquet").to_pandas()
    subs = pq.read_table(data / "truth" / "subscribers.parquet").to_pandas()
    stays = stays.merge(subs[["msisdn", "home_prefecture"]], on="msisdn")
    stays = stays[~stays.on_the_move].sort_values(["msisdn", "arrival_utc_s"])
    nxt = stays.groupby("msisdn").shift(-1)
    out = stays.assign(next_place=nxt.place_code, next_arrival=nxt.arrival_utc_s)
    out = out[(out.place_code == out.home_prefecture) & out.next_place.notna()]
    out = out[out.next_place != out.home_prefecture]
    if home:
        out = out[out.home_prefecture == home]
    return out


def test_lockdown_outflow_spikes_before_and_stops_after(lockdown: Path) -> None:
    moves = _departures(lockdown, WUHAN)
    closure = dt.datetime(2020, 1, 23, 10, tzinfo=SHANGHAI).timestamp()
    week_before = moves[
        (moves.departure_utc_s < closure) & (moves.departure_utc_s >= closure - 7 * 86400)
    ]
    week_after = moves[
        (moves.departure_utc_s >= closure) & (moves.departure_utc_s < closure + 7 * 86400)
    ]
    assert len(week_before) > 100
    assert len(week_before) > 8 * len(week_after)
    in_hubei = week_before.next_place.str.startswith("42").mean()
    assert 0.5 < in_hubei < 0.85


def test_spring_festival_migrants_leave_before_and_some_return(festival: Path) -> None:
    subs = pq.read_table(festival / "truth" / "subscribers.parquet").to_pandas()
    migrants = set(subs.msisdn[subs.migrant])
    assert len(migrants) > 30
    festival_day = dt.datetime(2020, 1, 25, tzinfo=SHANGHAI).timestamp()
    moves = _departures(festival)
    first = moves[moves.msisdn.isin(migrants)].groupby("msisdn").departure_utc_s.min()
    assert (first < festival_day).mean() > 0.9
    stays = pq.read_table(festival / "truth" / "stays.parquet").to_pandas()
    stays = stays.merge(subs[["msisdn", "home_prefecture"]], on="msisdn")
    back = stays[
        stays.msisdn.isin(migrants)
        & (stays.place_code == stays.home_prefecture)
        & (stays.arrival_utc_s > festival_day)
        & ~stays.on_the_move
    ]
    share_back = back.msisdn.nunique() / len(migrants)
    assert 0.3 < share_back < 0.95
