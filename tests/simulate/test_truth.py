"""The ground truth is consistent with itself and with the behaviours it records."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from episignal.simulate.truth import true_itineraries

FOUR_HOURS_S = 4 * 3600


def _truth(data: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    stays = pq.read_table(data / "truth" / "stays.parquet").to_pandas()
    subs = pq.read_table(data / "truth" / "subscribers.parquet").to_pandas()
    return stays, subs


def test_stays_follow_each_other_without_overlap(baseline: Path) -> None:
    stays, _ = _truth(baseline)
            "arrival_utc_s": [
                midnight,
                midnight + 5 * 3600,
                midnight + 6 * 3600,
                midnight - 20 * 86400,
            ],
            # Subscriber 2 left Beijing the day before the 14-day window began.
            "departure_utc_s": [
                midnight + 5 * 3600,
                midnight + 6 * 3600,
                midnight + 6 * 3600 + 60,
                midnight - 13 * 86400 - 3600,
            ],
            "on_the_move": [False, True, False, False],
        }
    )
    got = true_itineraries(stays, day, days=14, hours=4).to_pandas()
    assert set(zip(got.msisdn, got.place_code, strict=True)) == {("1", "420100"), ("1", "JP")}
