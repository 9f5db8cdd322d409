"""Subscribers of one chunk: carrier, number, home and work, and the hard-group tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from episignal.simulate import scenarios as sc
from episignal.simulate.carriers import CARRIERS, national_numbers
from episignal.simulate.geometry import offset
from episignal.simulate.randomness import SubscriberRandom
from episignal.simulate.world import BORDER_BAND_KM, World

REGULAR_PERIODIC_S = 7200  # periodic TAU timer of active phones (activity resets it often)
SPARSE_PERIODIC_S = 3600  # idle-only phones: one periodic update about every hour
PERIODIC_JITTER_S = 600


@dataclass
class Population:
    index: np.ndarray  # global subscriber index
    carrier: np.ndarray  # carrier index at the start of the window
    number: np.ndarray  # 11-digit national number (int64)
    home_xyz: np.ndarray
    home_county: np.ndarray
    work_xyz: np.ndarray
    worker: np.ndarray
    border_resident: np.ndarray
    sparse: np.ndarray
    night_off: np.ndarray
    roaming: np.ndarray  # takes a trip abroad
    day_tripper: np.ndarray  # same-day round trips through other cities
    ported: np.ndarray
    port_carrier: np.ndarray  # carrier after the port (= carrier when not ported)
    port_s: np.ndarray  # UTC seconds of the port (window end when not ported)
    new_sim: np.ndarray
    activation_s: np.ndarray  # UTC seconds of activation (window start when not a new SIM)
    activity: np.ndarray  # multiplier of the call/SMS/data rates
    periodic_s: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


def _home_county_probabilities(world: World, scenario: sc.Scenario) -> np.ndarray:
    p = world.county_weight / world.county_weight.sum()
    if not scenario.home_focus:
        return p
    pref = world.prefecture_code[world.county_prefecture]
    province = np.array([c[:2] for c in pref])
    group = np.full(len(p), -1)
    # A focus key is a prefecture code (6 digits) or a province prefix (2 digits); the more
    # specific key wins, so "420100" takes Wuhan out of the "42" rest-of-Hubei share.
    keys = sorted(scenario.home_focus, key=len)
    for g, key in enumerate(keys):
        group[(pref == key) if len(key) == 6 else (province == key)] = g
    out = np.zeros_like(p)
    for g, key in enumerate(keys):
        m = group == g
        out[m] = p[m] / p[m].sum() * scenario.home_focus[key]
    rest = group == -1
    out[rest] = p[rest] / p[rest].sum() * (1.0 - sum(scenario.home_focus.values()))
    return out / out.sum()


def build_population(
    world: World,
    scenario: sc.Scenario,
    rnd: SubscriberRandom,
    first: int,
    window_start_s: int,
    window_end_s: int,
) -> Population:
    n = rnd.n
    index = np.arange(first, first + n, dtype=np.int64)
    shares = np.array([c.market_share for c in CARRIERS])
    carrier = np.searchsorted(np.cumsum(shares) / shares.sum(), rnd.per_subscriber("random"))
    carrier = np.minimum(carrier, len(CARRIERS) - 1)
    prefix_choice = rnd.per_subscriber("integers", low=0, high=3)
    number = national_numbers(index, carrier, prefix_choice)

    p_county = _home_county_probabilities(world, scenario)
    county = np.searchsorted(np.cumsum(p_county), rnd.per_subscriber("random") * (1 - 1e-12))
    sigma = np.clip(0.3 * world.county_spacing_km[county], 0.5, 12.0)
    scatter = rnd.per_subscriber("normal", tail=(2,))
    home = offset(world.county_xyz[county], scatter[:, 0] * sigma, scatter[:, 1] * sigma)

    # Border residents: homes drawn from the pool of points just inside a prefecture boundary.
    wants_border = rnd.per_subscriber("random") < sc.BORDER_RESIDENT_SHARE
    pool_pick = rnd.per_subscriber("integers", low=0, high=len(world.border_xyz))
    if scenario.home_focus:
        wants_border &= False  # focused scenarios keep their home shares exact
    home[wants_border] = world.border_xyz[pool_pick[wants_border]]
    home_county = world.county_of(home)
    border = world.border_distance_km(home) < BORDER_BAND_KM

    worker = rnd.per_subscriber("random") < sc.WORKER_SHARE
    wsig = np.clip(0.5 * world.county_spacing_km[home_county], 1.0, 8.0)
    wscatter = rnd.per_subscriber("normal", tail=(2,))
    work = offset(home, wscatter[:, 0] * wsig, wscatter[:, 1] * wsig)
    # Border residents work on their own side, so their true itinerary is their own city only:
    # every record from the neighbour city's cells is then a ping-pong artefact.
    work[border] = home[border]

    u = rnd.per_subscriber("random", tail=(6,))
    sparse = u[:, 0] < sc.SPARSE_SHARE
    night_off = u[:, 1] < sc.NIGHT_OFF_SHARE
    roaming = u[:, 2] < sc.ROAMING_SHARE
    ported = u[:, 3] < sc.PORTED_SHARE
    new_sim = u[:, 4] < sc.NEW_SIM_SHARE
    day_tripper = (u[:, 5] < sc.DAY_TRIPPER_SHARE) & ~roaming & ~border

    span = window_end_s - window_start_s
    days = span // 86400
    port_carrier = (carrier + rnd.per_subscriber("integers", low=1, high=len(CARRIERS))) % len(
        CARRIERS
    )
    port_at = window_start_s + (rnd.per_subscriber("uniform", low=0.3, high=0.7) * span).astype(
        np.int64
    )
    port_carrier = np.where(ported, port_carrier, carrier)
    port_s = np.where(ported, port_at, window_end_s)
    lo = min(1, max(days - 1, 0)) / max(days, 1)
    act_at = window_start_s + (rnd.per_subscriber("uniform", low=lo, high=0.8) * span).astype(
        np.int64
    )
    activation_s = np.where(new_sim, act_at, window_start_s)
    activity = rnd.per_subscriber("lognormal", mean=0.0, sigma=0.5)
    periodic = np.where(sparse, SPARSE_PERIODIC_S, REGULAR_PERIODIC_S)
    return Population(
        index=index,
        carrier=carrier,
        number=number,
        home_xyz=home,
        home_county=home_county,
        work_xyz=work,
        worker=worker & ~border,
        border_resident=border,
        sparse=sparse,
        night_off=night_off,
        roaming=roaming,
        day_tripper=day_tripper,
        ported=ported,
        port_carrier=port_carrier,
        port_s=port_s,
        new_sim=new_sim,
        activation_s=activation_s,
        activity=activity,
        periodic_s=periodic,
    )
