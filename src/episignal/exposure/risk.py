"""Risk of matched scans: exposure windows, attenuation buckets, per-day weighted minutes.

This is the GAEN v2 model: a window's score is the sum of its scan instances' minutes weighted by
attenuation bucket, times the report-type weight and the infectiousness weight of the key's day
relative to symptom onset. Windows under a minimum score are dropped; the rest add up per day, and
a day at or above the threshold raises a notification.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from episignal.exposure.keys import ReportType
from episignal.exposure.settings import RiskSettings

LOCAL_TZ = ZoneInfo("Asia/Shanghai")  # day boundaries of exposure dates shown to the user


@dataclass(frozen=True, slots=True)
class ScanInstance:
    """One scan in which the key's RPI was heard."""

    ts_unix: int
    attenuation_db: int
    seconds_since_last_scan: int


@dataclass(frozen=True)
class ExposureWindow:
    """Up to 30 minutes of scans of one diagnosis key."""

    start_unix: int
    report_type: ReportType
    days_since_onset: int | None
    scans: tuple[ScanInstance, ...]

    @property
    def local_date(self) -> date:
        return datetime.fromtimestamp(self.start_unix, UTC).astimezone(LOCAL_TZ).date()

    @property
    def duration_seconds(self) -> int:
        return sum(s.seconds_since_last_scan for s in self.scans)


@dataclass(frozen=True)
class DailyRisk:
    day: date  # local date (Asia/Shanghai)
    weighted_minutes: float
    windows: int


def attenuation_weight(attenuation_db: int, risk: RiskSettings) -> float:
    for edge, weight in zip(risk.attenuation_thresholds_db, risk.attenuation_weights, strict=False):
        if attenuation_db <= edge:
            return weight
    return risk.attenuation_weights[-1]


def infectiousness_weight(days_since_onset: int | None, risk: RiskSettings) -> float:
    if days_since_onset is None:
        level = risk.infectiousness_when_unknown
    elif risk.high_infectiousness_days[0] <= days_since_onset <= risk.high_infectiousness_days[1]:
        level = "high"
    elif (
        risk.standard_infectiousness_days[0]
        <= days_since_onset
        <= risk.standard_infectiousness_days[1]
    ):
        level = "standard"
    else:
        level = "none"
    return {
        "high": risk.infectiousness_weight_high,
        "standard": risk.infectiousness_weight_standard,
        "none": 0.0,
    }[level]


def window_score(window: ExposureWindow, risk: RiskSettings) -> float:
    """Weighted minutes of one exposure window."""
    minutes = sum(
        s.seconds_since_last_scan / 60 * attenuation_weight(s.attenuation_db, risk)
        for s in window.scans
    )
    return (
        minutes
        * risk.report_type_weights.get(window.report_type, 0.0)
        * infectiousness_weight(window.days_since_onset, risk)
    )


def daily_risk(windows: list[ExposureWindow], risk: RiskSettings) -> list[DailyRisk]:
    """Per-day sums of the scores of the windows above the minimum, oldest day first."""
    sums: dict[date, float] = defaultdict(float)
    counts: dict[date, int] = defaultdict(int)
    for w in windows:
        score = window_score(w, risk)
        if score < risk.min_window_score_weighted_minutes or score <= 0:
            continue
        sums[w.local_date] += score
        counts[w.local_date] += 1
    return [DailyRisk(d, sums[d], counts[d]) for d in sorted(sums)]


def days_at_risk(windows: list[ExposureWindow], risk: RiskSettings) -> list[DailyRisk]:
    """The days whose sum reaches the notification threshold."""
    return [
        d
        for d in daily_risk(windows, risk)
        if d.weighted_minutes >= risk.daily_threshold_weighted_minutes
    ]
