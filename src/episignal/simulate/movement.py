"""Where every subscriber is, when: a day-by-day plan turned into visits and the legs between them.

Each subscriber has a *base* per day (home, a trip destination, a hometown, a place abroad). A day
is at most three visits: the morning at the previous base, then either a journey to the new base,
a commute to work and back, or a same-day round trip to another city and back. Between two visits
the phone moves in a straight line at the mode's speed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from episignal.simulate import scenarios as sc
from episignal.simulate.carriers import FOREIGN_NETWORKS
from episignal.simulate.geometry import distance_km, offset, to_xyz
from episignal.simulate.population import Population
from episignal.simulate.randomness import SubscriberRandom
from episignal.simulate.world import BIG_CITIES, MUNICIPALITIES, World

DAY_S = 86400
HOUR_S = 3600

# Travel modes of the leg that arrives at a visit.
MODE_NONE, MODE_LOCAL, MODE_CAR, MODE_TRAIN, MODE_PLANE = 0, 1, 2, 3, 4
SPEED_KMH = {MODE_LOCAL: 25.0, MODE_CAR: 80.0, MODE_TRAIN: 250.0, MODE_PLANE: 700.0}
ROUTE_FACTOR = 1.25  # roads and rails are longer than the straight line
CAR_MAX_KM = 150.0
TRAIN_MAX_KM = 1000.0
PLANE_OVERHEAD_H = 0.5
MAX_JOURNEY_H = 9.0  # departures end by 15:00, so every journey arrives the same day
DAY_TRIP_BAND_KM = (120.0, 400.0)
DAY_TRIP_DAILY_P = 0.25  # chance a day-tripper makes a round trip on a free day
MIGRANT_CITY_PROVINCES = frozenset({"44", "33", "32", "35"})  # coastal capitals draw migrants too


@dataclass
class Movement:
    """Visits sorted by (subscriber, time); leg i arrives at visit i from visit i-1."""

    sub: np.ndarray
    pos: np.ndarray
    arr_s: np.ndarray
    dep_s: np.ndarray
    mode_in: np.ndarray
    pos_xyz: np.ndarray
    pos_abroad: np.ndarray  # -1 at home, else index into FOREIGN_NETWORKS
    pos_owner: np.ndarray  # the subscriber whose place this is
    tags: dict[str, np.ndarray]  # per-subscriber flags discovered while planning (migrant, ...)


def _mode_and_duration(dist_km: np.ndarray, abroad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mode = np.where(
        dist_km <= CAR_MAX_KM, MODE_CAR, np.where(dist_km <= TRAIN_MAX_KM, MODE_TRAIN, MODE_PLANE)
    )
    mode = np.where(abroad, MODE_PLANE, mode)
    speed = np.select(
        [mode == MODE_CAR, mode == MODE_TRAIN],
        [SPEED_KMH[MODE_CAR], SPEED_KMH[MODE_TRAIN]],
        SPEED_KMH[MODE_PLANE],
    )
    hours = dist_km * ROUTE_FACTOR / speed + np.where(mode == MODE_PLANE, PLANE_OVERHEAD_H, 0.0)
    hours = np.minimum(hours, MAX_JOURNEY_H)
    return mode.astype(np.int8), (hours * HOUR_S).astype(np.int64) + 60


class _Positions:
    def __init__(self, pop: Population) -> None:
        n = len(pop)
        self.xyz = [pop.home_xyz, pop.work_xyz]
        self.abroad = [np.full(n, -1), np.full(n, -1)]
        self.owner = [np.arange(n), np.arange(n)]
        self.count = 2 * n

    def add(self, xyz: np.ndarray, abroad: np.ndarray, owner: np.ndarray) -> np.ndarray:
        ids = np.arange(self.count, self.count + len(xyz))
        self.xyz.append(xyz)
        self.abroad.append(abroad)
        self.owner.append(owner)
        self.count += len(xyz)
        return ids


def _pick_rows(cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row-wise inverse-CDF pick: cum is (k, m) cumulative probabilities, u is (k,)."""
    return np.minimum((cum < u[:, None]).sum(axis=1), cum.shape[1] - 1)


def _position_in_prefecture(
    world: World, pref: np.ndarray, sub: np.ndarray, rnd: SubscriberRandom, rural: bool = False
) -> np.ndarray:
    """A plausible spot in each given prefecture: a county by population, then near its centre."""
    order, starts = world.prefecture_counties
    u = rnd.per_item(sub, "random")
    weights = world.county_weight[order]
    if rural:
        weights = np.where(world.county_urban[order], weights * 0.2, weights)
    cum = np.cumsum(weights)
    lo = starts[pref]
    hi = starts[pref + 1]
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    target = base + u * (cum[hi - 1] - base)
    k = np.clip(np.searchsorted(cum, target, side="right"), lo, hi - 1)
    county = order[k]
    sigma = np.clip(0.3 * world.county_spacing_km[county], 0.5, 10.0)
    e = rnd.per_item(sub, "normal") * sigma
    nn = rnd.per_item(sub, "normal") * sigma
    return offset(world.county_xyz[county], e, nn)


def _gravity_destinations(
    world: World, origin_pref: np.ndarray, u: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    g = world.gravity[origin_pref]
    if weights is not None:
        g = g * weights[None, :]
    cum = np.cumsum(g, axis=1)
    cum /= cum[:, -1:]
    return _pick_rows(cum, u)


def plan_movement(
    world: World,
    scenario: sc.Scenario,
    pop: Population,
    rnd: SubscriberRandom,
    window_start_s: int,
) -> Movement:
    n, days = len(pop), scenario.days
    positions = _Positions(pop)
    home_pref = world.county_prefecture[pop.home_county]
    # base[:, 0] is the day before the window: everybody starts at home.
    base = np.tile(np.arange(n)[:, None], (1, days + 1))
    dep_override = np.full((n, days + 1), -1, dtype=np.int64)  # forced departure second of day
    free = ~pop.roaming.copy()  # who may still get an ordinary trip
    tags: dict[str, np.ndarray] = {}

    def apply_trip(
        sub: np.ndarray, start_day: np.ndarray, end_day: np.ndarray, dest: np.ndarray
    ) -> None:
        """The subscriber sleeps at dest from start_day to end_day - 1 (window day indices)."""
        length = np.maximum(end_day - start_day, 0)
        if len(sub) == 0:
            return
        first = np.cumsum(length) - length
        step = np.arange(int(length.sum())) - np.repeat(first, length)
        rows = np.repeat(sub, length)
        cols = 1 + np.repeat(start_day, length) + step
        keep = cols <= days
        base[rows[keep], cols[keep]] = np.repeat(dest, length)[keep]

    # --- lockdown: outflow from the key city before it closes ---
    lock = scenario.lockdown
    if lock is not None:
        lock_pref = world.prefecture_index[lock.prefecture]
        lock_day = (lock.at_local.date() - scenario.start).days
        day_idx = np.arange(days)
        # Leaving builds up over the days before the closure, then nearly stops.
        weight = np.where(
            day_idx <= lock_day, np.exp(-np.abs(lock_day - day_idx) / 3.0), lock.after_rate
        )
        leaver = (
            (home_pref == lock_pref) & (rnd.per_subscriber("random") < lock.leaver_share) & free
        )
        u_day = rnd.per_subscriber("random")
        u_dest = rnd.per_subscriber("random")
        u_inprov = rnd.per_subscriber("random")
        u_dep = rnd.per_subscriber("random")
        sub = np.flatnonzero(leaver)
        cum_days = np.cumsum(weight) / weight.sum()
        leave_day = np.minimum(np.searchsorted(cum_days, u_day[sub]), days - 1)
        province = world.prefecture_province
        in_prov = (province == lock.prefecture[:2]) & (np.arange(len(province)) != lock_pref)
        favoured = np.array([lock.favoured_provinces.get(p, 1.0) for p in province])
        w_in = np.where(in_prov, world.prefecture_weight, 0.0)
        w_out = np.where(province == lock.prefecture[:2], 0.0, favoured)
        dest_in = _gravity_destinations(world, home_pref[sub], u_dest[sub], w_in / w_in.max())
        dest_out = _gravity_destinations(world, home_pref[sub], u_dest[sub], w_out)
        dest_pref = np.where(u_inprov[sub] < lock.in_province_share, dest_in, dest_out)
        dest = positions.add(
            _position_in_prefecture(world, dest_pref, sub, rnd), np.full(len(sub), -1), sub
        )
        apply_trip(sub, leave_day, np.full(len(sub), days), dest)
        # On the lockdown day itself only departures before the closure get out.
        on_lock_day = leave_day == lock_day
        close_s = lock.at_local.hour * HOUR_S + lock.at_local.minute * 60
        dep_override[sub[on_lock_day], 1 + leave_day[on_lock_day]] = (
            5.5 * HOUR_S + u_dep[sub[on_lock_day]] * (close_s - 5.5 * HOUR_S - 600)
        ).astype(np.int64)
        free &= ~leaver
        # Residents who stay do not make ordinary trips out of a city about to close, nor leave
        # it at all once closed (no commuting out, no day trips, no flights abroad).
        locked_in = home_pref == lock_pref
        free &= ~locked_in
        locked_days = np.zeros(days, bool)
        locked_days[max(lock_day, 0) :] = True
        tags["lockdown_leaver"] = leaver

    # --- Spring Festival: migrants go to their hometown and (most) come back ---
    fest = scenario.festival
    if fest is not None:
        pref_codes = world.prefecture_code[home_pref]
        big = np.array(
            [
                p in MUNICIPALITIES
                or p in BIG_CITIES
                or (p[:2] in MIGRANT_CITY_PROVINCES and p[2:] == "0100")
                for p in pref_codes
            ]
        )
        migrant = big & (rnd.per_subscriber("random") < fest.migrant_share) & free
        u_leave = rnd.per_subscriber("triangular", left=0.0, mode=0.7, right=1.0)
        u_return = rnd.per_subscriber("random")
        u_back = rnd.per_subscriber("random")
        u_home = rnd.per_subscriber("random")
        sub = np.flatnonzero(migrant)
        fest_day = (fest.day - scenario.start).days
        leave_day = np.clip((u_leave[sub] * fest_day).astype(np.int64), 0, max(fest_day - 1, 0))
        returns = u_back[sub] < fest.return_share
        return_day = fest_day + 8 + (u_return[sub] * 19).astype(np.int64)
        return_day = np.where(returns, return_day, days + 1)
        factor = np.array([fest.hometown_provinces.get(p, 0.0) for p in world.prefecture_province])
        w = factor * world.prefecture_weight
        cum = np.cumsum(w) / w.sum()
        hometown_pref = np.minimum(np.searchsorted(cum, u_home[sub]), len(cum) - 1)
        hometown_pref = np.where(
            hometown_pref == home_pref[sub], (hometown_pref + 1) % len(cum), hometown_pref
        )
        dest = positions.add(
            _position_in_prefecture(world, hometown_pref, sub, rnd, rural=True),
            np.full(len(sub), -1),
            sub,
        )
        apply_trip(sub, leave_day, np.minimum(return_day, days), dest)
        free &= ~migrant
        tags["migrant"] = migrant

    # --- trips abroad (roaming) ---
    u_start = rnd.per_subscriber("random")
    u_len = rnd.per_subscriber("integers", low=2, high=9)
    u_net = rnd.per_subscriber("random")
    sub = np.flatnonzero(pop.roaming)
    start_day = (u_start[sub] * max(days - 1, 1)).astype(np.int64)
    net_w = np.array([f.weight for f in FOREIGN_NETWORKS])
    net = np.minimum(np.searchsorted(np.cumsum(net_w) / net_w.sum(), u_net[sub]), len(net_w) - 1)
    centres = to_xyz(
        np.array([f.lon for f in FOREIGN_NETWORKS]), np.array([f.lat for f in FOREIGN_NETWORKS])
    )
    e = rnd.per_item(sub, "normal") * 5.0
    nn = rnd.per_item(sub, "normal") * 5.0
    dest = positions.add(offset(centres[net], e, nn), net, sub)
    go = np.ones(len(sub), bool)
    if lock is not None:
        go = ~(locked_in[sub] & (start_day >= lock_day))
    apply_trip(sub[go], start_day[go], (start_day + u_len[sub])[go], dest[go])

    # --- ordinary overnight trips between cities (gravity model) ---
    p_trip = 1.0 - np.exp(-scenario.trip_rate_per_day * days)
    travels = free & ~pop.day_tripper & (rnd.per_subscriber("random") < p_trip)
    u_start = rnd.per_subscriber("random")
    u_len = rnd.per_subscriber("geometric", p=0.35)
    u_dest = rnd.per_subscriber("random")
    sub = np.flatnonzero(travels)
    start_day = (u_start[sub] * days).astype(np.int64)
    dest_pref = _gravity_destinations(world, home_pref[sub], u_dest[sub])
    dest = positions.add(
        _position_in_prefecture(world, dest_pref, sub, rnd), np.full(len(sub), -1), sub
    )
    apply_trip(sub, start_day, start_day + np.clip(u_len[sub], 1, 10), dest)
    tags["traveller"] = travels

    pos_xyz = np.concatenate(positions.xyz)
    pos_abroad = np.concatenate(positions.abroad)
    pos_owner = np.concatenate(positions.owner)

    # --- day by day: journeys, commutes, same-day round trips ---
    prev = base[:, :-1]
    cur = base[:, 1:]
    travel = prev != cur
    dist = distance_km(pos_xyz[prev], pos_xyz[cur])
    abroad_leg = (pos_abroad[prev] >= 0) | (pos_abroad[cur] >= 0)
    mode, dur = _mode_and_duration(dist, abroad_leg)
    u_dep = rnd.per_subscriber("uniform", low=7 * HOUR_S, high=15 * HOUR_S, tail=(days,)).astype(
        np.int64
    )
    t_dep = np.where(dep_override[:, 1:] >= 0, dep_override[:, 1:], u_dep)

    day_dates = [scenario.start + dt.timedelta(days=d) for d in range(days)]
    weekday = np.array([d.weekday() < 5 for d in day_dates])
    if fest is not None:
        weekday &= np.array([not (fest.holidays[0] <= d <= fest.holidays[1]) for d in day_dates])
    at_home = (cur == np.arange(n)[:, None]) & ~travel

    # Same-day round trips: out in the morning, a few hours there, back in the evening, so the
    # cities on the way are passed twice on one day.
    band_p = _day_trip_matrix(world)
    if lock is not None:
        at_home &= ~(locked_in[:, None] & locked_days[None, :])
    trip_today = (
        pop.day_tripper[:, None]
        & at_home
        & (rnd.per_subscriber("random", tail=(days,)) < DAY_TRIP_DAILY_P)
    )
    s_idx, d_idx = np.nonzero(trip_today)
    u_dt = rnd.per_item(s_idx, "random")
    cum = np.cumsum(band_p[home_pref[s_idx]], axis=1)
    dt_pref = _pick_rows(cum / np.maximum(cum[:, -1:], 1e-12), u_dt)
    dt_pos = positions_extra = _position_in_prefecture(world, dt_pref, s_idx, rnd)
    dt_ids = np.arange(len(pos_xyz), len(pos_xyz) + len(dt_pos))
    pos_xyz = np.concatenate([pos_xyz, positions_extra])
    pos_abroad = np.concatenate([pos_abroad, np.full(len(dt_pos), -1)])
    pos_owner = np.concatenate([pos_owner, s_idx])
    dt_dist = distance_km(pos_xyz[s_idx], dt_pos)
    dt_mode = np.where(dt_dist <= CAR_MAX_KM, MODE_CAR, MODE_TRAIN).astype(np.int8)
    dt_speed = np.where(dt_mode == MODE_CAR, SPEED_KMH[MODE_CAR], SPEED_KMH[MODE_TRAIN])
    dt_dur = (dt_dist * ROUTE_FACTOR / dt_speed * HOUR_S).astype(np.int64) + 60
    dt_leave = rnd.per_item(s_idx, "uniform", low=6.5 * HOUR_S, high=8.5 * HOUR_S).astype(np.int64)
    dt_stay = rnd.per_item(s_idx, "uniform", low=1.5 * HOUR_S, high=6 * HOUR_S).astype(np.int64)

    works = pop.worker[:, None] & weekday[None, :] & at_home & ~trip_today
    leave_home = np.clip(
        rnd.per_subscriber("normal", loc=8 * HOUR_S, scale=0.4 * HOUR_S, tail=(days,)),
        6.5 * HOUR_S,
        9.5 * HOUR_S,
    ).astype(np.int64)
    leave_work = np.clip(
        rnd.per_subscriber("normal", loc=18 * HOUR_S, scale=0.6 * HOUR_S, tail=(days,)),
        16 * HOUR_S,
        21 * HOUR_S,
    ).astype(np.int64)
    commute_km = distance_km(pop.home_xyz, pop.work_xyz)
    commute = (commute_km / SPEED_KMH[MODE_LOCAL] * HOUR_S).astype(np.int64)[:, None] + 300

    day0 = window_start_s + np.arange(days, dtype=np.int64) * DAY_S
    day_end = day0 + DAY_S
    K = 3
    v_pos = np.full((n, days, K), -1, dtype=np.int64)
    v_arr = np.zeros((n, days, K), dtype=np.int64)
    v_dep = np.zeros((n, days, K), dtype=np.int64)
    v_mode = np.zeros((n, days, K), dtype=np.int8)
    # Default: the whole day at the base.
    v_pos[:, :, 0] = prev
    v_arr[:, :, 0] = day0
    v_dep[:, :, 0] = day_end
    # Journeys to a new base.
    s, d = np.nonzero(travel)
    v_dep[s, d, 0] = day0[d] + t_dep[s, d]
    v_pos[s, d, 1] = cur[s, d]
    v_arr[s, d, 1] = day0[d] + t_dep[s, d] + dur[s, d]
    v_dep[s, d, 1] = day_end[d]
    v_mode[s, d, 1] = mode[s, d]
    # Commutes.
    s, d = np.nonzero(works)
    v_dep[s, d, 0] = day0[d] + leave_home[s, d]
    v_pos[s, d, 1] = n + s
    v_arr[s, d, 1] = day0[d] + leave_home[s, d] + commute[s, 0]
    v_dep[s, d, 1] = day0[d] + leave_work[s, d]
    v_mode[s, d, 1] = MODE_LOCAL
    v_pos[s, d, 2] = s
    v_arr[s, d, 2] = day0[d] + leave_work[s, d] + commute[s, 0]
    v_dep[s, d, 2] = day_end[d]
    v_mode[s, d, 2] = MODE_LOCAL
    # Same-day round trips.
    s, d = s_idx, d_idx
    v_dep[s, d, 0] = day0[d] + dt_leave
    v_pos[s, d, 1] = dt_ids
    v_arr[s, d, 1] = day0[d] + dt_leave + dt_dur
    v_dep[s, d, 1] = v_arr[s, d, 1] + dt_stay
    v_mode[s, d, 1] = dt_mode
    v_pos[s, d, 2] = s
    v_arr[s, d, 2] = v_dep[s, d, 1] + dt_dur
    v_dep[s, d, 2] = day_end[d]
    v_mode[s, d, 2] = dt_mode

    valid = v_pos >= 0
    sub_grid = np.broadcast_to(np.arange(n)[:, None, None], v_pos.shape)
    tags["day_trips"] = np.bincount(s_idx, minlength=n) > 0
    return Movement(
        sub=sub_grid[valid],
        pos=v_pos[valid],
        arr_s=v_arr[valid],
        dep_s=v_dep[valid],
        mode_in=v_mode[valid],
        pos_xyz=pos_xyz,
        pos_abroad=pos_abroad,
        pos_owner=pos_owner,
        tags=tags,
    )


_DAY_TRIP_CACHE: dict[int, np.ndarray] = {}


def _day_trip_matrix(world: World) -> np.ndarray:
    """Gravity restricted to cities in the day-trip distance band (else all cities)."""
    key = id(world)
    if key not in _DAY_TRIP_CACHE:
        d = distance_km(world.prefecture_xyz[:, None, :], world.prefecture_xyz[None, :, :])
        band = (d >= DAY_TRIP_BAND_KM[0]) & (d <= DAY_TRIP_BAND_KM[1])
        g = np.where(band, world.gravity, 0.0)
        empty = g.sum(axis=1) == 0
        g[empty] = world.gravity[empty]
        _DAY_TRIP_CACHE[key] = g
    return _DAY_TRIP_CACHE[key]
