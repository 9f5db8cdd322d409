"""Wrong places are put in the cause an analyst would give them."""

from __future__ import annotations

import pyarrow as pa

from episignal.evaluation.errors import border_odds, cause_counts, classify_errors

H = 3600
WINDOW = (0, 14 * 24 * H)


def _stays(rows: list[tuple[str, str, int, int]]) -> pa.Table:
    names = ["subscriber", "place_code", "arrival_utc_s", "departure_utc_s"]
    return pa.table(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))


def _pairs(rows: list[tuple[str, str]]) -> pa.Table:
    return pa.table({"subscriber": [r[0] for r in rows], "place_code": [r[1] for r in rows]})


def _records(rows: list[tuple[str, int, str] | tuple[str, int, str, str]]) -> pa.Table:
    """(subscriber, ts, place[, alt]): a fourth value is a border cell's other place."""
    return pa.table(
        {
            "subscriber": [r[0] for r in rows],
            "ts_utc_s": pa.array([r[1] for r in rows], pa.int64()),
            "place_code": [r[2] for r in rows],
            "alt_place": [r[3] if len(r) > 3 else "" for r in rows],
        }
    )


def test_each_wrong_place_gets_the_cause_the_records_and_truth_show() -> None:
    day = 24 * H
    stays = _stays(
        [
            ("home-only", "A", 0, 14 * day),  # never left A; A's neighbour B's cell serves home
            ("by-border", "A", 0, 14 * day),  # never left A; B's border cell reaching into A
            # lives in A by B's border cell, and once drove through B for a quarter of an hour
            ("passer-by", "A", 0, 5 * day),
            ("passer-by", "B", 5 * day, 5 * day + 15 * 60),
            ("passer-by", "A", 5 * day + 15 * 60, 14 * day),
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
        [
            ("home-only", "A"),
            ("by-border", "A"),
            ("passer-by", "A"),
            ("visitor", "A"),
            ("visitor", "E"),
            ("visitor", "G"),
            ("visitor", "K"),
        ]
    )
    listed = _pairs(
        [
            ("home-only", "A"),
            ("home-only", "B"),  # records on B's cells
            ("home-only", "Z"),  # no record on Z's cells at all
            ("by-border", "A"),
            ("by-border", "B"),  # records on B's border cells whose other side is A
            ("passer-by", "A"),
            ("passer-by", "B"),  # the same, not the quarter of an hour: not a short visit
            ("visitor", "A"),
            ("visitor", "C"),
            ("visitor", "D"),
        ]
    )
    records = _records(
        [("home-only", 10 * H, "B"), ("home-only", 11 * H, "A")]
        # one of home-only's B records is on a border cell, but towards C: not ambiguous with A
        + [("home-only", 12 * H, "B", "C")]
        + [("by-border", k * H, "B", "A") for k in range(1, 9)]
        + [("passer-by", 5 * day + 5 * 60, "B", "A")]
        + [("passer-by", 6 * day + k * H, "B", "A") for k in range(1, 9)]
        + [("visitor", 6 * day + k * H, "F") for k in range(1, 9)]
        + [("visitor", 7 * day + k * H, "G") for k in range(1, 9)]
        + [("visitor", 8 * day + k * 30 * 60, "K") for k in range(1, 8)]
    )
    false_places, missed = classify_errors(stays, truth, listed, records, WINDOW, hours=4.0)
    got_false = dict(
        zip(
            false_places.subscriber + "/" + false_places.place_code, false_places.cause, strict=True
        )
    )
    got_missed = dict(zip(missed.place_code, missed.cause, strict=True))
    assert got_false == {
        "home-only/B": "records_there",
        "home-only/Z": "never_there",
        "by-border/B": "border_records_there",
        "passer-by/B": "border_records_there",
        "visitor/C": "short_visit",
        "visitor/D": "near_threshold",
    }
    assert got_missed == {"E": "records_elsewhere", "G": "missed", "K": "near_threshold"}
    assert cause_counts(false_places, missed)["missed"] == {
        "missed": 1,
        "near_threshold": 1,
        "records_elsewhere": 1,
    }


def test_border_odds_count_where_subscribers_seen_only_on_border_cells_truly_were() -> None:
    day = 24 * H
    stays = _stays(
        [
            ("home-in-A", "A", 0, 14 * day),
            ("home-in-B", "B", 0, 14 * day),
            ("mixed", "A", 0, 14 * day),
        ]
    )
    records = _records(
        # lives in A, phone always on B's border cell towards A: its cell's alternate
        [("home-in-A", k * H, "B", "A") for k in range(1, 4)]
        # lives in B on the same cell: its own place; one record on a cell towards C
        + [("home-in-B", k * H, "B", "A") for k in range(1, 6)]
        + [("home-in-B", 7 * H, "C", "B")]
        # seen on an interior cell once: not on border cells only, so not counted at all
        + [("mixed", H, "B", "A"), ("mixed", 2 * H, "A")]
        # outside the window: not counted
        + [("home-in-A", 15 * day, "B", "A")]
    )
    assert border_odds(stays, records, WINDOW) == {"own": 5, "alt": 4, "other": 0}
