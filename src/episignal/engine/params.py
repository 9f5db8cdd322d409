"""Engine parameters: small frozen objects with documented defaults (docs/stay-rules.md)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Attribution(enum.StrEnum):
    """How the silence between two records at different places is shared between them."""

    PREVIOUS = "previous"  # all of it to the earlier place (capped)
    MIDPOINT = "midpoint"  # split at the midpoint (each half capped)


class Rule(enum.StrEnum):
    DWELL = "dwell"  # ours, default: continuous presence after cleaning ≥ hours
    SPAN = "span"  # official: earliest and latest record in the city on one local day ≥ hours apart


@dataclass(frozen=True)
class CleanParams:
    max_speed_kmh: float = 1000.0  # faster than an airliner between two cells' coverage: a glitch
    anchor_max_age_hours: float = 12.0  # how far a border record looks for an unambiguous place
    anchor_min_minutes: float = 30.0  # an unambiguous run this long or longer can be an anchor
    majority_ratio: float = 3.0  # records on one side's border cells that outweigh the anchor
    majority_window_hours: float = 2.0  # the border records around a run that vote on its side
    pingpong_max_minutes: float = 60.0  # A-B-A: a B run shorter than this between two A runs is A


@dataclass(frozen=True)
class StayParams:
    attribution: Attribution = Attribution.MIDPOINT
    max_credit_minutes: float = 60.0  # at most this much silence is credited to a place per side
    bridge_hours: float = 12.0  # silence up to this long between records at one place is presence
    # Context read before each day, so a stay crossing midnight is seen whole for any threshold up
    # to this many hours (a longer stay is seen truncated to it, which never changes the verdict).
    lookback_hours: float = 12.0


@dataclass(frozen=True)
class ItineraryParams:
    days: int = 14  # window: the N local days ending with the date, inclusive
    hours: float = 4.0  # a stay of at least this long lists the city
    rule: Rule = Rule.DWELL
