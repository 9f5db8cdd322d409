"""Wrong places are put in the cause an analyst would give them."""

from __future__ import annotations

import pyarrow as pa

from episignal.evaluation.errors import cause_counts, classify_errors

H = 3600
WINDOW = (0, 14 * 24 * H)


def _stays(rows: list[tuple[str, str, int, int]]) -> pa.Table:
    names = ["subscriber", "place_code", "arrival_utc_s", "departure_utc_s"]
    return pa.table(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))


def _pairs(rows: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"subscriber": [r[0] for r in rows], "place_code": [r[1] for r in rows]})


def _records(rows: list[tuple[str, int, str]]) -> pa.Table:
    return pa.table(
        {
            "subscriber": [r[0] for r in rows],
            "ts_utc_s": pa.array([r[1] for r in rows], pa.int64()),
            "place_code": [r[2] for r in rows],
        }
    )


def test_each_wrong_place_gets_the_cause_the_records_and_truth_show() -> None:
    day = 24 * H
    stays = _stays(
        [
            ("home-only", "A", 0, 14 * day),  # never left A; A's neighbour B's cell serves home
            ("visitor", "A", 0, 5 * day),
            ("visitor", "C", 5 * day, 5 * day + 2 * H),  # 2 h in C: too short
            ("visitor", "D", 5 * day + 2 * H, 5 * day + 5 * H + 30 * 60),  # 3.5 h: near
            ("visitor", "E", 6 * day, 6 * day + 10 * H),  # 10 h in E, records all on F's cells
            ("visitor", "G", 7 * day, 7 * day + 10 * H),  # 10 h in G, seen there, not listed
            ("visitor", "K", 8 * day, 8 * day + 4 * H + 20 * 60),  # 4 h 20 min, not listed
            ("visitor", "A", 8 * day + 5 * H, 14 * day),
        ]
    )
    truth = _pairs(
        [("home-only", "A"), ("visitor", "A"), ("visitor", "E"), ("visitor", "G"), ("visitor", "K")]
    )
    listed = _pairs(
        [
            ("home-only", "A"),
            ("home-only", "B"),  # records on B's cells
            ("home-only", "Z"),  # no record on Z's cells at all
            ("visitor", "A"),
            ("visitor", "C"),
            ("visitor", "D"),
        ]
    )
    records = _records(
        [("home-only", 10 * H, "B"), ("home-only", 11 * H, "A")]
        + [("visitor", 6 * day + k * H, "F") for k in range(1, 9)]
        + [("visitor", 7 * day + k * H, "G") for k in range(1, 9)]
        + [("visitor", 8 * day + k * 30 * 60, "K") for k in range(1, 8)]
    )
    false_places, missed = classify_errors(stays, truth, listed, records, WINDOW, hours=4.0)
    got_false = dict(zip(false_places.place_code, false_places.cause, strict=True))
    got_missed = dict(zip(missed.place_code, missed.cause, strict=True))
    assert got_false == {
        "B": "records_there",
        "Z": "never_there",
        "C": "short_visit",
        "D": "near_threshold",
    }
    assert got_missed == {"E": "records_elsewhere", "G": "missed", "K": "near_threshold"}
    assert cause_counts(false_places, missed)["missed"] == {
        "missed": 1,
        "near_threshold": 1,
        "records_elsewhere": 1,
    }
