"""Precision and recall of listed places, per rule, overall and for the hard groups.

A listed place is one (subscriber, place_code) pair. Precision is the share of listed pairs that
are in the truth; recall is the share of true pairs that are listed. With nothing listed precision
is 1 (no wrong claim was made); with nothing true recall is 1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd
import pyarrow as pa

ALL = "all"
# Subscriber groups where stay rules go wrong most easily (columns of the groups table).
HARD_GROUPS = ("border_resident", "transit", "sparse", "roaming", "ported", "new_sim")
KEYS = ["subscriber", "place_code"]


@dataclass(frozen=True)
class GroupMetrics:
    rule: str
    group: str
    subscribers: int
    true_places: int
    listed_places: int
    true_positives: int

    @property
    def false_positives(self) -> int:
        return self.listed_places - self.true_positives

    @property
    def false_negatives(self) -> int:
        return self.true_places - self.true_positives

    @property
    def precision(self) -> float:
        return self.true_positives / self.listed_places if self.listed_places else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.true_places if self.true_places else 1.0

    def as_json(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        out.update(
            false_positives=self.false_positives,
            false_negatives=self.false_negatives,
            precision=round(self.precision, 6),
            recall=round(self.recall, 6),
        )
        return out


@dataclass
class EvaluationReport:
    rows: list[GroupMetrics] = field(default_factory=list)
    context: dict[str, object] = field(default_factory=dict)

    def get(self, rule: str, group: str = ALL) -> GroupMetrics:
        for r in self.rows:
            if r.rule == rule and r.group == group:
                return r
        raise KeyError((rule, group))

    def as_json(self) -> dict[str, object]:
        return {**self.context, "metrics": [r.as_json() for r in self.rows]}


def _pairs(table: pa.Table) -> pd.DataFrame:
    # Plain object columns: merging empty Arrow-backed string columns fails in pandas.
    frame = table.select(KEYS).to_pandas().astype(object)
    return frame.drop_duplicates()


def evaluate(
    truth_itins: pa.Table,
    predicted: dict[str, pa.Table],
    groups: pa.Table,
) -> EvaluationReport:
    """Compare listed places with the truth.

    truth_itins: (subscriber, place_code) true pairs for one date; predicted: rule name → table
    with (subscriber, place_code) listed pairs; groups: `subscriber` plus one boolean column per
    group (HARD_GROUPS that are present are reported, and "all" always).
    """
    truth = _pairs(truth_itins)
    members = groups.to_pandas()
    members["subscriber"] = members["subscriber"].astype(object)
    group_names = [g for g in HARD_GROUPS if g in members.columns]
    report = EvaluationReport()
    for rule, table in predicted.items():
        listed = _pairs(table)
        both = truth.merge(listed, on=KEYS, how="outer", indicator=True)
        both = both.merge(members, on="subscriber", how="left")
        in_truth = both["_merge"] != "right_only"
        in_listed = both["_merge"] != "left_only"
        hit = both["_merge"] == "both"
        masks = {ALL: pd.Series(True, index=both.index)}
        masks.update({g: both[g].fillna(False).astype(bool) for g in group_names})
        sizes = {ALL: len(members)}
        sizes.update({g: int(members[g].sum()) for g in group_names})
        for g, m in masks.items():
            report.rows.append(
                GroupMetrics(
                    rule=rule,
                    group=g,
                    subscribers=sizes[g],
                    true_places=int((m & in_truth).sum()),
                    listed_places=int((m & in_listed).sum()),
                    true_positives=int((m & hit).sum()),
                )
            )
    return report
