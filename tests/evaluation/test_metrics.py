"""Precision and recall of listed places behave as a reader of the evaluation table expects."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from episignal.evaluation import evaluate

SUBS = ["a" * 32, "b" * 32, "c" * 32]
PLACES = ["420100", "110000", "420900", "JP"]


def _pairs(pairs: set[tuple[str, str]]) -> pa.Table:
    rows = sorted(pairs)
    return pa.table(
        {
            "subscriber": pa.array([r[0] for r in rows], pa.string()),
            "place_code": pa.array([r[1] for r in rows], pa.string()),
        }
    )


def _groups(border: set[str]) -> pa.Table:
    return pa.table(
        {
            "subscriber": SUBS,
            "border_resident": [s in border for s in SUBS],
            "transit": [False] * len(SUBS),
        }
    )


def test_a_wrong_neighbour_city_costs_precision_for_border_residents_only() -> None:
    truth = {(SUBS[0], "420100"), (SUBS[1], "110000")}
    listed = truth | {(SUBS[0], "420900")}
    report = evaluate(_pairs(truth), {"dwell": _pairs(listed)}, _groups({SUBS[0]}))
    border = report.get("dwell", "border_resident")
    assert (border.true_positives, border.false_positives, border.false_negatives) == (1, 1, 0)
    assert border.precision == 0.5 and border.recall == 1.0
    assert report.get("dwell", "all").precision == 2 / 3
    assert report.get("dwell", "transit").listed_places == 0
    assert report.get("dwell", "transit").precision == 1.0


def test_a_missed_place_costs_recall() -> None:
    truth = {(SUBS[0], "420100"), (SUBS[0], "JP")}
    report = evaluate(_pairs(truth), {"span": _pairs({(SUBS[0], "420100")})}, _groups(set()))
    m = report.get("span")
    assert m.precision == 1.0 and m.recall == 0.5 and m.false_negatives == 1


pair_sets = st.sets(st.tuples(st.sampled_from(SUBS), st.sampled_from(PLACES)), max_size=12)


@settings(max_examples=60, deadline=None)
@given(truth=pair_sets, listed=pair_sets, border=st.sets(st.sampled_from(SUBS)))
def test_metrics_are_consistent_counts(truth, listed, border) -> None:
    report = evaluate(_pairs(truth), {"dwell": _pairs(listed)}, _groups(border))
    m = report.get("dwell")
    assert m.true_positives == len(truth & listed)
    assert m.true_places == len(truth) and m.listed_places == len(listed)
    assert 0.0 <= m.precision <= 1.0 and 0.0 <= m.recall <= 1.0
    if listed <= truth:
        assert m.precision == 1.0
    if truth <= listed:
        assert m.recall == 1.0
    b = report.get("dwell", "border_resident")
    assert b.true_positives == len({p for p in truth & listed if p[0] in border})
    assert b.subscribers == len(border)
