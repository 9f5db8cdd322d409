"""Precision and recall of exposure notifications against the crowd simulation's ground truth.

``evaluate_crowd`` runs the simulation once, then notifies every phone with the same matching
and risk scoring the phone library uses, for each daily threshold; a notification is correct
when the person really spent 15 minutes within 2 m of a diagnosed person on one day.
"""

from __future__ import annotations

from dataclasses import dataclass

from episignal.exposure.crowd import CrowdParams, CrowdRun, simulate_crowd
from episignal.exposure.matching import exposure_windows, match_keys
from episignal.exposure.risk import daily_risk
from episignal.exposure.settings import ExposureSettings


@dataclass(frozen=True)
class ThresholdResult:
    threshold_weighted_minutes: float
    notified: int
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def precision(self) -> float:
        n = self.true_positives + self.false_positives
        return self.true_positives / n if n else 1.0

    @property
    def recall(self) -> float:
        n = self.true_positives + self.false_negatives
        return self.true_positives / n if n else 1.0


@dataclass(frozen=True)
class CrowdEvaluation:
    people: int
    diagnosed: int
    close_contacts: int  # ground truth
    configured: ThresholdResult  # at the configured daily threshold
    sweep: tuple[ThresholdResult, ...]  # other thresholds, for choosing one

    @property
    def precision(self) -> float:
        return self.configured.precision

    @property
    def recall(self) -> float:
        return self.configured.recall

    def rows(self) -> list[dict]:
        """Table rows (one per threshold) for printing or a report."""
        return [
            {
                "threshold_weighted_minutes": r.threshold_weighted_minutes,
                "notified": r.notified,
                "true_positives": r.true_positives,
                "false_positives": r.false_positives,
                "false_negatives": r.false_negatives,
                "precision": round(r.precision, 4),
                "recall": round(r.recall, 4),
            }
            for r in self.sweep
        ]


def max_daily_scores(run: CrowdRun, settings: ExposureSettings) -> dict[int, float]:
    """Each phone's highest per-day weighted minutes against the shared keys."""
    out: dict[int, float] = {}
    drift = settings.phone.clock_drift_minutes * 60
    for person, scans in run.scans.items():
        if person in run.diagnosed:
            continue
        own = run.own_keys.get(person, set())
        keys = [k for k in run.shared_keys if k.key_data not in own]
        windows = exposure_windows(match_keys(keys, scans, drift), settings.phone)
        days = daily_risk(windows, settings.risk)
        if days:
            out[person] = max(d.weighted_minutes for d in days)
    return out


def _score(threshold: float, scores: dict[int, float], truth: set[int]) -> ThresholdResult:
    notified = {p for p, s in scores.items() if s >= threshold}
    return ThresholdResult(
        threshold,
        len(notified),
        len(notified & truth),
        len(notified - truth),
        len(truth - notified),
    )


def evaluate_crowd(
    params: CrowdParams | None = None,
    settings: ExposureSettings | None = None,
    thresholds: tuple[float, ...] = (5, 10, 15, 20, 30, 45, 60),
) -> CrowdEvaluation:
    """Simulate a crowd and measure how well notifications find the real close contacts."""
    settings = settings or ExposureSettings()
    run = simulate_crowd(params or CrowdParams())
    scores = max_daily_scores(run, settings)
    configured = settings.risk.daily_threshold_weighted_minutes
    return CrowdEvaluation(
        people=run.params.people,
        diagnosed=len(run.diagnosed),
        close_contacts=len(run.close_contacts),
        configured=_score(configured, scores, run.close_contacts),
        sweep=tuple(
            _score(t, scores, run.close_contacts) for t in sorted({*thresholds, configured})
        ),
    )
