"""Signaling events from movement: what each phone reports, on which cell, when.

Event sources: calls, SMS and data sessions (Poisson with a diurnal profile), periodic updates,
handovers while moving in connected mode, location updates when the tracking area changes, attach
and detach at power on/off (nights off, flights, activation, porting). The serving cell is one of
the three nearest cells of the phone's carrier, drawn per event with weights falling steeply with
distance over coverage radius, so a phone between two cells flips between them (ping-pong).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from episignal.ingest.events import EVENT_TYPES
from episignal.simulate.carriers import CARRIERS, FOREIGN_NETWORKS
from episignal.simulate.movement import MODE_LOCAL, MODE_NONE, MODE_PLANE, Movement
from episignal.simulate.population import PERIODIC_JITTER_S, Population
from episignal.simulate.randomness import SubscriberRandom
from episignal.simulate.world import World

# The simulated carriers speak the canonical vocabulary: one definition, the ingest's.
ATTACH, DETACH, PERIODIC, LU, HANDOVER, CALL, SMS, DATA = range(len(EVENT_TYPES))

# Mean daily counts of subscriber-initiated activity (scaled per subscriber by `activity`).
DATA_PER_DAY = 16.0
CALLS_PER_DAY = 4.0
SMS_PER_DAY = 3.0
# Relative activity by local hour (mean 1): quiet nights, a lunch and an evening peak.
DIURNAL = np.array(
    [
        0.25,
        0.12,
        0.08,
        0.06,
        0.06,
        0.12,
        0.4,
        0.9,
        1.3,
        1.4,
        1.4,
        1.4,
        1.5,
        1.4,
        1.3,
        1.3,
        1.3,
        1.4,
        1.5,
        1.6,
        1.6,
        1.5,
        1.1,
        0.58,
    ]
)
DIURNAL = DIURNAL / DIURNAL.mean()
PROBE_S = {MODE_LOCAL: 300}  # how often a moving phone's cell is re-evaluated (commutes: coarser)
PROBE_DEFAULT_S = 60
NEIGHBOUR_CELLS = 3
SIGNAL_EXPONENT = 8.0  # steepness of the serving-cell weights: higher → less ping-pong
SIGNAL_FLOOR_KM = 0.2
NIGHT_OFF_FROM_H, NIGHT_OFF_SPREAD_H = 23.0, 1.5
NIGHT_ON_FROM_H, NIGHT_ON_SPREAD_H = 6.0, 1.5


@dataclass(frozen=True)
class CellIndex:
    """All cells of all carriers in one index space (home cells, then foreign, per carrier)."""

    cell_id: np.ndarray  # canonical id (object)
    plmn: np.ndarray  # the network the cell belongs to (visited network abroad)
    area: np.ndarray
    cell_no: np.ndarray
    roaming: np.ndarray  # bool: foreign cell
    tracking_area: np.ndarray  # unique id of (network, area): location updates fire on change
    home_offset: tuple[int, ...]
    foreign_offset: tuple[int, ...]


@lru_cache(maxsize=4)
def cell_index(world: World) -> CellIndex:
    ids, plmn, area, no, roam, home_off, foreign_off = [], [], [], [], [], [], []
    total = 0
    for spec, cells in zip(CARRIERS, world.carriers, strict=True):
        home_off.append(total)
        ids.append(cells.cell_id)
        plmn.append(np.full(len(cells.cell_id), spec.plmn, dtype=object))
        area.append(cells.area)
        no.append(np.array([int(c.rsplit("-", 1)[1]) for c in cells.cell_id]))
        roam.append(np.zeros(len(cells.cell_id), bool))
        total += len(cells.cell_id)
        foreign_off.append(total)
        ids.append(cells.foreign_cell_id)
        plmn.append(
            np.array([FOREIGN_NETWORKS[i].plmn for i in cells.foreign_network], dtype=object)
        )
        area.append(cells.foreign_area)
        no.append(np.array([int(c.rsplit("-", 1)[1]) for c in cells.foreign_cell_id]))
        roam.append(np.ones(len(cells.foreign_cell_id), bool))
        total += len(cells.foreign_cell_id)
    all_plmn = np.concatenate(plmn)
    all_area = np.concatenate(area).astype(np.int64)
    network = np.unique(all_plmn, return_inverse=True)[1]
    return CellIndex(
        cell_id=np.concatenate(ids),
        plmn=all_plmn,
        area=all_area,
        tracking_area=all_area * 1000 + network,
        cell_no=np.concatenate(no).astype(np.int64),
        roaming=np.concatenate(roam),
        home_offset=tuple(home_off),
        foreign_offset=tuple(foreign_off),
    )


def serving_candidates(
    world: World, xyz: np.ndarray, carrier: np.ndarray, abroad: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The nearest cells (global index) and the cumulative probability of each serving the phone."""
    index = cell_index(world)
    m = len(xyz)
    cand = np.zeros((m, NEIGHBOUR_CELLS), dtype=np.int64)
    cum = np.ones((m, NEIGHBOUR_CELLS))
    for k, cells in enumerate(world.carriers):
        for foreign in (False, True):
            sel = np.flatnonzero((carrier == k) & ((abroad >= 0) == foreign))
            if len(sel) == 0:
                continue
            tree = cells.foreign_tree if foreign else cells.tree
            radius = cells.foreign_radius_km if foreign else cells.radius_km
            off = index.foreign_offset[k] if foreign else index.home_offset[k]
            d, i = tree.query(xyz[sel], k=NEIGHBOUR_CELLS, workers=-1)
            # Received power falls with distance relative to the cell's reach; the exponent
            # makes the nearest cell win unless another is nearly as close (a boundary).
            w = ((d + SIGNAL_FLOOR_KM) / radius[i]) ** -SIGNAL_EXPONENT
            c = np.cumsum(w, axis=1)
            cum[sel] = c / c[:, -1:]
            cand[sel] = i + off
    return cand, cum


def _choose(cand: np.ndarray, cum: np.ndarray, u: np.ndarray) -> np.ndarray:
    k = (u[:, None] > cum).sum(axis=1)
    k = np.minimum(k, cand.shape[1] - 1)
    return cand[np.arange(len(u)), k]


class _Intervals:
    """Per-subscriber time intervals [start, end) that do not overlap, for membership tests."""

    def __init__(self, sub: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        order = np.lexsort((start, sub))
        self.sub, self.start, self.end = sub[order], start[order], end[order]

    def contains(self, sub: np.ndarray, ts: np.ndarray) -> np.ndarray:
        if len(self.sub) == 0:
            return np.zeros(len(ts), bool)
        # Lexicographic search on (sub, start) via a combined float-free key.
        shift = np.int64(1) << 40
        key = self.sub.astype(np.int64) * shift + (self.start - self.start.min())
        probe = sub.astype(np.int64) * shift + (ts - self.start.min())
        j = np.maximum(np.searchsorted(key, probe, side="right") - 1, 0)
        return (self.sub[j] == sub) & (self.start[j] <= ts) & (ts < self.end[j])


@dataclass
class Events:
    sub: np.ndarray  # chunk-local subscriber index
    ts_s: np.ndarray  # UTC seconds
    cell: np.ndarray  # global cell index (CellIndex)
    event_type: np.ndarray  # index into EVENT_TYPES
    carrier: np.ndarray  # the carrier whose export carries the record
    style: np.ndarray  # random bits for export details (milliseconds, call direction, time zone)

    def __len__(self) -> int:
        return len(self.ts_s)


def generate_events(
    world: World,
    pop: Population,
    mov: Movement,
    rnd: SubscriberRandom,
    window_start_s: int,
    window_end_s: int,
) -> Events:
    n = len(pop)
    span = window_end_s - window_start_s
    days = span // 86400
    # The packed sort key below has 18 bits for the subscriber, 26 for the second in the window
    # and 17 for the cell.
    if n > 1 << 18 or span >= 1 << 26 or len(cell_index(world).cell_id) >= 1 << 17:
        raise ValueError("chunk, window or cell count too large for the packed event key")
    hours = days * 24

    # --- activity (calls, SMS, data) ---
    per_hour = (DATA_PER_DAY + CALLS_PER_DAY + SMS_PER_DAY) / 24.0
    lam = (
        np.where(pop.sparse, 0.0, pop.activity)[:, None]
        * np.tile(DIURNAL, days)[None, :]
        * per_hour
    )
    counts = rnd.per_subscriber("poisson", tail=(hours,), lam=lam).astype(np.int64)
    sub_a = np.repeat(np.repeat(np.arange(n), hours), counts.ravel())
    hour_a = np.repeat(np.tile(np.arange(hours), n), counts.ravel())
    t_a = window_start_s + hour_a * 3600 + rnd.per_item(sub_a, "integers", low=0, high=3600)
    u_type = rnd.per_item(sub_a, "random") * (DATA_PER_DAY + CALLS_PER_DAY + SMS_PER_DAY)
    type_a = np.where(
        u_type < DATA_PER_DAY, DATA, np.where(u_type < DATA_PER_DAY + CALLS_PER_DAY, CALL, SMS)
    )

    # --- periodic updates ---
    k_max = int(span // (pop.periodic_s.min() - PERIODIC_JITTER_S)) + 2
    first = rnd.per_subscriber("uniform", low=0.0, high=1.0) * pop.periodic_s
    steps = pop.periodic_s[:, None] + rnd.per_subscriber(
        "integers", tail=(k_max,), low=-PERIODIC_JITTER_S, high=PERIODIC_JITTER_S + 1
    )
    steps[:, 0] = 0
    t_p = window_start_s + first.astype(np.int64)[:, None] + np.cumsum(steps, axis=1)
    keep = t_p < window_end_s
    sub_p = np.broadcast_to(np.arange(n)[:, None], t_p.shape)[keep]
    t_p = t_p[keep]

    # --- power off at night (detach before, attach after) ---
    night_sub = np.flatnonzero(pop.night_off)
    nights = np.arange(-1, days)
    off_from = rnd.per_subscriber(
        "uniform", low=0, high=NIGHT_OFF_SPREAD_H * 3600, tail=(days + 1,)
    )
    on_from = rnd.per_subscriber("uniform", low=0, high=NIGHT_ON_SPREAD_H * 3600, tail=(days + 1,))
    off_s = (window_start_s + nights * 86400 + NIGHT_OFF_FROM_H * 3600)[None, :] + off_from
    on_s = (window_start_s + (nights + 1) * 86400 + NIGHT_ON_FROM_H * 3600)[None, :] + on_from
    off_s = off_s[night_sub].astype(np.int64)
    on_s = on_s[night_sub].astype(np.int64)
    off_sub = np.repeat(night_sub, days + 1)
    off_start, off_end = off_s.ravel(), on_s.ravel()

    # --- flights: airplane mode from take-off to landing ---
    same_sub = np.concatenate(([False], mov.sub[1:] == mov.sub[:-1]))
    leg = np.flatnonzero(
        same_sub & (mov.mode_in != MODE_NONE) & (mov.arr_s > np.roll(mov.dep_s, 1))
    )
    leg_start = mov.dep_s[leg - 1]
    leg_end = mov.arr_s[leg]
    flight = mov.mode_in[leg] == MODE_PLANE

    boundary_sub = [off_sub, off_sub, mov.sub[leg[flight]], mov.sub[leg[flight]]]
    boundary_t = [off_start - 1, off_end, leg_start[flight] - 1, leg_end[flight]]
    boundary_type = [DETACH, ATTACH, DETACH, ATTACH]
    act = np.flatnonzero(pop.new_sim)
    ported = np.flatnonzero(pop.ported)
    boundary_sub += [act, ported, ported]
    boundary_t += [pop.activation_s[act], pop.port_s[ported] - 1, pop.port_s[ported]]
    boundary_type += [ATTACH, DETACH, ATTACH]

    sub = np.concatenate([sub_a, sub_p, *boundary_sub])
    ts = np.concatenate([t_a, t_p, *boundary_t]).astype(np.int64)
    etype = np.concatenate(
        [type_a, np.full(len(t_p), PERIODIC)]
        + [np.full(len(s), t) for s, t in zip(boundary_sub, boundary_type, strict=True)]
    ).astype(np.int8)
    keep = (ts >= window_start_s) & (ts < window_end_s)
    sub, ts, etype = sub[keep], ts[keep], etype[keep]
    # Phones off at night report nothing in between (the detach/attach sit just outside).
    off = _Intervals(off_sub, off_start, off_end)
    inside = off.contains(sub, ts)
    sub, ts, etype = sub[~inside], ts[~inside], etype[~inside]
    # Nothing before a new SIM is activated.
    keep = ts >= pop.activation_s[sub]
    sub, ts, etype = sub[keep], ts[keep], etype[keep]

    # Grouped by subscriber (stable, so the order inside a subscriber does not depend on the
    # chunk): per-subscriber random streams need it, time order is not needed yet.
    order = np.argsort(sub, kind="stable")
    sub, ts, etype = sub[order], ts[order], etype[order]

    # --- where each event happens: at a visit, or on the leg towards the next one ---
    vkey = mov.sub.astype(np.int64) * (span + 1) + (mov.arr_s - window_start_s)
    ekey = sub.astype(np.int64) * (span + 1) + (ts - window_start_s)
    vi = np.searchsorted(vkey, ekey, side="right") - 1
    static = ts < mov.dep_s[vi]
    nxt = np.minimum(vi + 1, len(mov.sub) - 1)
    moving_mode = np.where(static, MODE_NONE, mov.mode_in[nxt])
    airborne = ~static & (moving_mode == MODE_PLANE)
    sub, ts, etype, vi, static, nxt = (a[~airborne] for a in (sub, ts, etype, vi, static, nxt))

    carrier_now = np.where(ts >= pop.port_s[sub], pop.port_carrier[sub], pop.carrier[sub])
    u_cell = rnd.per_item(sub, "random")
    style = rnd.per_item(sub, "integers", low=0, high=1 << 16).astype(np.int32)
    cell = np.zeros(len(ts), dtype=np.int64)

    # Static events: candidates once per (place, carrier), not once per event.
    pos_carrier = pop.carrier[mov.pos_owner]
    cand1, cum1 = serving_candidates(world, mov.pos_xyz, pos_carrier, mov.pos_abroad)
    second = np.flatnonzero(pop.ported[mov.pos_owner])
    cand2, cum2 = cand1.copy(), cum1.copy()
    if len(second):
        c2, q2 = serving_candidates(
            world,
            mov.pos_xyz[second],
            pop.port_carrier[mov.pos_owner[second]],
            mov.pos_abroad[second],
        )
        cand2[second], cum2[second] = c2, q2
    s_idx = np.flatnonzero(static)
    after_port = carrier_now[s_idx] != pop.carrier[sub[s_idx]]
    row = mov.pos[vi[s_idx]] + after_port * len(cand1)
    cand_all = np.concatenate([cand1, cand2])
    cum_all = np.concatenate([cum1, cum2])
    u = u_cell[s_idx]
    k = (u > cum_all[row, 0]).astype(np.int64) + (u > cum_all[row, 1])
    cell[s_idx] = cand_all[row, k]

    # Events on the move: interpolate along the leg.
    m_idx = np.flatnonzero(~static)
    if len(m_idx):
        a = mov.pos[vi[m_idx]]
        b = mov.pos[nxt[m_idx]]
        t0 = mov.dep_s[vi[m_idx]]
        t1 = mov.arr_s[nxt[m_idx]]
        f = ((ts[m_idx] - t0) / np.maximum(t1 - t0, 1))[:, None]
        xyz = mov.pos_xyz[a] * (1 - f) + mov.pos_xyz[b] * f
        cand, cum = serving_candidates(world, xyz, carrier_now[m_idx], np.full(len(m_idx), -1))
        cell[m_idx] = _choose(cand, cum, u_cell[m_idx])

    # --- probes along ground legs: handovers (connected) and location updates (idle) ---
    ground = ~flight
    g_leg = leg[ground]
    g_start, g_end = leg_start[ground], leg_end[ground]
    g_sub = mov.sub[g_leg]
    step = np.where(mov.mode_in[g_leg] == MODE_LOCAL, PROBE_S[MODE_LOCAL], PROBE_DEFAULT_S)
    n_probe = ((g_end - g_start) // step + 1).astype(np.int64)
    p_leg = np.repeat(np.arange(len(g_leg)), n_probe)
    p_k = np.arange(int(n_probe.sum())) - np.repeat(np.cumsum(n_probe) - n_probe, n_probe)
    p_t = g_start[p_leg] + p_k * step[p_leg]
    p_sub = g_sub[p_leg]
    f = ((p_t - g_start[p_leg]) / np.maximum(g_end - g_start, 1)[p_leg])[:, None]
    a = mov.pos[g_leg - 1][p_leg]
    b = mov.pos[g_leg][p_leg]
    xyz = mov.pos_xyz[a] * (1 - f) + mov.pos_xyz[b] * f
    p_carrier = np.where(p_t >= pop.port_s[p_sub], pop.port_carrier[p_sub], pop.carrier[p_sub])
    p_cand, p_cum = serving_candidates(world, xyz, p_carrier, np.full(len(p_t), -1))
    p_cell = _choose(p_cand, p_cum, rnd.per_item(p_sub, "random"))
    index = cell_index(world)
    changed = np.concatenate(([False], (p_leg[1:] == p_leg[:-1]) & (p_cell[1:] != p_cell[:-1])))
    area_changed = changed & np.concatenate(
        ([False], index.tracking_area[p_cell[1:]] != index.tracking_area[p_cell[:-1]])
    )
    idle = pop.sparse[p_sub]
    emit = np.where(idle, area_changed, changed) & (p_t >= pop.activation_s[p_sub])
    emit &= ~off.contains(p_sub, p_t)
    p_type = np.where(idle, LU, HANDOVER).astype(np.int8)
    p_style = rnd.per_item(p_sub, "integers", low=0, high=1 << 16).astype(np.int32)

    sub = np.concatenate([sub, p_sub[emit]])
    ts = np.concatenate([ts, p_t[emit]])
    cell = np.concatenate([cell, p_cell[emit]])
    etype = np.concatenate([etype, p_type[emit]])
    style = np.concatenate([style, p_style[emit]])
    # One sort by (subscriber, time, type, cell) packed in 64 bits; exact repeats become adjacent.
    key = (
        (sub.astype(np.uint64) << np.uint64(46))
        | ((ts - window_start_s).astype(np.uint64) << np.uint64(20))
        | (etype.astype(np.uint64) << np.uint64(17))
        | cell.astype(np.uint64)
    )
    order = np.argsort(key, kind="stable")  # ties keep a chunk-independent order
    key = key[order]
    sub, ts, cell, etype, style = (x[order] for x in (sub, ts, cell, etype, style))
    # Two identical records (same phone, second, cell and type) would be indistinguishable from
    # an export duplicate; keep one so that injected duplicates are the only duplicates.
    keep = np.concatenate(([True], key[1:] != key[:-1]))
    sub, ts, cell, etype, style = (x[keep] for x in (sub, ts, cell, etype, style))

    # --- location update whenever the tracking area (or network) changes ---
    ta = index.tracking_area[cell]
    new_ta = np.concatenate(([False], (sub[1:] == sub[:-1]) & (ta[1:] != ta[:-1])))
    new_ta &= (etype != LU) & (etype != ATTACH)
    # No second update where one follows in the same second on the same cell (records of one
    # second are ordered by type, so it comes right after).
    lu_next = np.concatenate(
        (
            (sub[1:] == sub[:-1])
            & (ts[1:] == ts[:-1])
            & (cell[1:] == cell[:-1])
            & (etype[1:] == LU),
            [False],
        )
    )
    new_ta &= ~lu_next
    lu = np.flatnonzero(new_ta)
    # The update comes just before the record that revealed the new area, in the same second.
    sub = np.insert(sub, lu, sub[lu])
    ts = np.insert(ts, lu, ts[lu])
    cell = np.insert(cell, lu, cell[lu])
    etype = np.insert(etype, lu, np.int8(LU))
    style = np.insert(style, lu, style[lu])
    carrier = np.where(ts >= pop.port_s[sub], pop.port_carrier[sub], pop.carrier[sub])
    keep = np.ones(len(ts), bool)
    return Events(
        sub=sub[keep].astype(np.int32),
        ts_s=ts[keep],
        cell=cell[keep].astype(np.int32),
        event_type=etype[keep],
        carrier=carrier[keep].astype(np.int8),
        style=style[keep],
    )
