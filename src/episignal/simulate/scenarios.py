"""Named scenarios: the period simulated and the behaviours switched on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Lockdown:
    prefecture: str  # the locked-down city
    at_local: dt.datetime  # naive local time (Asia/Shanghai) when leaving stops
    leaver_share: float  # residents who leave in the days before (≈ 5 of 14 million for Wuhan)
    in_province_share: float  # of the leavers, those going to other cities of the province
    # Provinces that received most of the rest, with extra gravity weight.
    favoured_provinces: dict[str, float]
    after_rate: float  # daily leaving after the lockdown, as a fraction of the last day's rate


@dataclass(frozen=True)
class Festival:
    day: dt.date  # Spring Festival (春节)
    migrant_share: float  # of big-city residents, those who go to a hometown
    hometown_provinces: dict[str, float]
    return_share: float  # migrants who come back within 4 weeks after the festival
    holidays: tuple[dt.date, dt.date]  # no commuting in between (inclusive)


@dataclass(frozen=True)
class Scenario:
    name: str
    start: dt.date
    days: int
    trip_rate_per_day: float = 0.008  # overnight domestic trips started per subscriber-day
    home_focus: dict[str, float] = field(default_factory=dict)  # prefecture → share of homes
    lockdown: Lockdown | None = None
    festival: Festival | None = None

    def with_period(self, start: dt.date | None, days: int | None) -> Scenario:
        return Scenario(
            self.name,
            start or self.start,
            days or self.days,
            self.trip_rate_per_day,
            self.home_focus,
            self.lockdown,
            self.festival,
        )


# Shares of the hard groups every scenario contains (recorded as tags in the truth).
BORDER_RESIDENT_SHARE = 0.02
SPARSE_SHARE = 0.05
NIGHT_OFF_SHARE = 0.20
ROAMING_SHARE = 0.015
PORTED_SHARE = 0.01
NEW_SIM_SHARE = 0.01
DAY_TRIPPER_SHARE = 0.04  # same-day round trips through other cities (the transit group)
WORKER_SHARE = 0.65

WUHAN = "420100"

SCENARIOS: dict[str, Scenario] = {
    "baseline": Scenario("baseline", dt.date(2020, 11, 2), 14),
    "lockdown": Scenario(
        "lockdown",
        dt.date(2020, 1, 9),
        21,
        home_focus={WUHAN: 0.35, "42": 0.20},
        lockdown=Lockdown(
            prefecture=WUHAN,
            at_local=dt.datetime(2020, 1, 23, 10, 0),
            leaver_share=0.35,
            in_province_share=0.65,
            favoured_provinces={
                "41": 4.0,
                "43": 4.0,
                "34": 3.0,
                "50": 3.0,
                "36": 3.0,
                "11": 2.0,
                "31": 2.0,
                "44": 2.0,
            },
            after_rate=0.03,
        ),
    ),
    "spring-festival": Scenario(
        "spring-festival",
        dt.date(2020, 1, 10),
        42,
        festival=Festival(
            day=dt.date(2020, 1, 25),
            migrant_share=0.35,
            hometown_provinces={
                "41": 3.0,
                "43": 2.5,
                "51": 2.5,
                "42": 2.0,
                "34": 2.0,
                "36": 1.5,
                "45": 1.5,
                "52": 1.2,
                "50": 1.2,
            },
            return_share=0.8,
            holidays=(dt.date(2020, 1, 24), dt.date(2020, 2, 2)),
        ),
    ),
}


class UnknownScenario(ValueError):
    pass


def scenario(name: str, start: dt.date | None = None, days: int | None = None) -> Scenario:
    try:
        base = SCENARIOS[name]
    except KeyError:
        raise UnknownScenario(
            f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}"
        ) from None
    return base.with_period(start, days)
