"""Ground truth: where every subscriber really was (stays) and the true itinerary of each day.

Truth rule (docs/simulator.md): place P is in the true itinerary for date D with a window of N days
and a threshold of H hours iff some true stay in P overlaps [D−N+1 00:00, D+1 00:00) local time
(Asia/Shanghai, UTC+8) by at least H hours; a country abroad is listed iff any presence in it
overlaps the window. A stay is continuous presence in one prefecture-level place (or country):
passing through a city on a train or a road is presence there too, just short. Nothing before a
new SIM's activation counts, and time in the air is presence nowhere.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from episignal.simulate.carriers import FOREIGN_NETWORKS
from episignal.simulate.legs import counties_along_legs
from episignal.simulate.movement import MODE_NONE, MODE_PLANE, Movement
from episignal.simulate.population import Population
from episignal.simulate.world import World

LOCAL_OFFSET_S = 8 * 3600  # Asia/Shanghai: UTC+8, no daylight saving
TRUTH_SAMPLE_S = 60  # resolution at which a journey is attributed to the cities it crosses
ABROAD_PLACE = 100_000  # place ids ≥ this are foreign networks

STAYS_SCHEMA = pa.schema(
    [
        ("msisdn", pa.string()),
        ("place_code", pa.string()),
        ("county_code", pa.string()),
        ("arrival_utc_s", pa.int64()),
        ("departure_utc_s", pa.int64()),
        ("on_the_move", pa.bool_()),  # presence only while travelling through (a pass)
    ]
)
ITINERARY_SCHEMA = pa.schema(
    [("msisdn", pa.string()), ("date", pa.date32()), ("place_code", pa.string())]
)


def local_midnight_utc_s(day: dt.date) -> int:
    """UTC seconds of 00:00 Asia/Shanghai on a date."""
    return (day - dt.date(1970, 1, 1)).days * 86400 - LOCAL_OFFSET_S


def true_stays(
    world: World, pop: Population, mov: Movement, msisdn: np.ndarray, window_end_s: int
) -> pa.Table:
    """Merged true stays of a chunk's subscribers (msisdn: E.164 digits per subscriber)."""
    pos_county = world.county_of(mov.pos_xyz)
    pos_place = np.where(
        mov.pos_abroad >= 0,
        ABROAD_PLACE + mov.pos_abroad,
        world.county_prefecture[pos_county],
    )
    pos_county = np.where(mov.pos_abroad >= 0, -1, pos_county)

    # Visits.
    s_sub, s_start, s_end = mov.sub, mov.arr_s, mov.dep_s
    s_place, s_county = pos_place[mov.pos], pos_county[mov.pos]

    # Ground journeys, sampled: each minute goes to the city the phone is in at its middle.
    same_sub = np.concatenate(([False], mov.sub[1:] == mov.sub[:-1]))
    prev_dep = np.roll(mov.dep_s, 1)
    leg = np.flatnonzero(
        same_sub & (mov.mode_in != MODE_NONE) & (mov.mode_in != MODE_PLANE) & (mov.arr_s > prev_dep)
    )
    t0, t1 = mov.dep_s[leg - 1], mov.arr_s[leg]
    n = ((t1 - t0 + TRUTH_SAMPLE_S - 1) // TRUTH_SAMPLE_S).astype(np.int64)
    li = np.repeat(np.arange(len(leg)), n)
    k = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    a_start = t0[li] + k * TRUTH_SAMPLE_S
    a_end = np.minimum(a_start + TRUTH_SAMPLE_S, t1[li])
    a_xyz, b_xyz = mov.pos_xyz[mov.pos[leg - 1]], mov.pos_xyz[mov.pos[leg]]
    span = np.maximum(t1 - t0, 1)

    def sample_xyz(i: np.ndarray) -> np.ndarray:
        f = (((a_start[i] + a_end[i]) / 2 - t0[li[i]]) / span[li[i]])[:, None]
        return a_xyz[li[i]] * (1 - f) + b_xyz[li[i]] * f

    last = np.cumsum(n) - 1
    county = counties_along_legs(world, sample_xyz, last - n + 1, last)
    # Consecutive minutes of a leg in the same county are one piece: the merge below would join
    # them anyway, and the county's share of the stay is the same sum of seconds.
    run = np.ones(len(li), bool)
    run[1:] = (li[1:] != li[:-1]) | (county[1:] != county[:-1])
    r_first = np.flatnonzero(run)
    r_last = np.concatenate((r_first[1:], [len(li)])) - 1
    county = county[r_first]

    sub = np.concatenate([s_sub, mov.sub[leg][li[r_first]]])
    start = np.concatenate([s_start, a_start[r_first]])
    end = np.concatenate([s_end, a_end[r_last]])
    place = np.concatenate([s_place, world.county_prefecture[county]])
    cty = np.concatenate([s_county, county])
    moving = np.concatenate([np.zeros(len(s_sub), bool), np.ones(len(r_first), bool)])

    # Nothing counts before activation; nothing after the simulated window.
    start = np.maximum(start, pop.activation_s[sub])
    end = np.minimum(end, window_end_s)
    keep = end > start
    sub, start, end, place, cty, moving = (x[keep] for x in (sub, start, end, place, cty, moving))
    # By (subscriber, start): one packed key, and both halves are already in that order, so the
    # stable sort is a merge.
    key = (sub.astype(np.int64) << 40) | (start - (start.min() if len(start) else 0))
    order = np.argsort(key, kind="stable")
    sub, start, end, place, cty, moving = (x[order] for x in (sub, start, end, place, cty, moving))

    # Merge consecutive pieces in the same place with no gap (a flight is a gap).
    new = np.ones(len(sub), bool)
    new[1:] = (sub[1:] != sub[:-1]) | (place[1:] != place[:-1]) | (start[1:] != end[:-1])
    group = np.cumsum(new) - 1
    g_first = np.flatnonzero(new)
    g_last = np.concatenate((g_first[1:], [len(sub)])) - 1
    arrival = start[g_first]
    departure = end[g_last]
    g_sub = sub[g_first]
    g_place = place[g_first]
    on_move = np.logical_and.reduceat(moving, g_first) if len(g_first) else np.zeros(0, bool)

    # County: where the stay's time was mostly spent.
    dur = (end - start).astype(np.float64)
    key = group.astype(np.int64) * (len(world.county_code) + 1) + (cty + 1)
    uk, inv = np.unique(key, return_inverse=True)
    total = np.bincount(inv, weights=dur)
    ug = uk // (len(world.county_code) + 1)
    uc = uk % (len(world.county_code) + 1) - 1
    best = np.lexsort((-total, ug))
    first_of_group = np.concatenate(([True], ug[best][1:] != ug[best][:-1]))
    g_county = np.full(len(g_first), -1)
    g_county[ug[best][first_of_group]] = uc[best][first_of_group]

    place_codes = np.concatenate(
        [world.prefecture_code, np.array([f.country for f in FOREIGN_NETWORKS], dtype=object)]
    )
    place_idx = np.where(
        g_place >= ABROAD_PLACE, len(world.prefecture_code) + g_place - ABROAD_PLACE, g_place
    )
    county_codes = np.concatenate([world.county_code, np.array([""], dtype=object)])
    return pa.table(
        {
            "msisdn": pa.array(msisdn[g_sub], pa.string()),
            "place_code": pa.array(place_codes[place_idx], pa.string()),
            "county_code": pa.array(county_codes[g_county], pa.string()),
            "arrival_utc_s": pa.array(arrival, pa.int64()),
            "departure_utc_s": pa.array(departure, pa.int64()),
            "on_the_move": pa.array(on_move, pa.bool_()),
        },
        schema=STAYS_SCHEMA,
    )


def true_itineraries(
    stays: pa.Table, date: dt.date, days: int = 14, hours: float = 4.0
) -> pa.Table:
    """The true itinerary for one date: (msisdn, date, place_code), one row per listed place."""
    w_start = local_midnight_utc_s(date - dt.timedelta(days=days - 1))
    w_end = local_midnight_utc_s(date + dt.timedelta(days=1))
    arr = stays["arrival_utc_s"].to_numpy()
    dep = stays["departure_utc_s"].to_numpy()
    overlap = np.minimum(dep, w_end) - np.maximum(arr, w_start)
    abroad = pc.equal(pc.utf8_length(stays["place_code"]), 2).to_numpy(zero_copy_only=False)
    listed = np.where(abroad, overlap > 0, overlap >= hours * 3600)
    chosen = stays.filter(pa.array(listed)).select(["msisdn", "place_code"])
    if chosen.num_rows == 0:
        return ITINERARY_SCHEMA.empty_table()
    # Sorted: group_by's order is not deterministic, and the files must be.
    unique = (
        chosen.group_by(["msisdn", "place_code"], use_threads=False)
        .aggregate([])
        .sort_by([("msisdn", "ascending"), ("place_code", "ascending")])
    )
    return pa.table(
        {
            "msisdn": unique["msisdn"],
            "date": pa.array([date] * unique.num_rows, pa.date32()),
            "place_code": unique["place_code"],
        },
        schema=ITINERARY_SCHEMA,
    )
