"""One chunk of subscribers end to end: population → movement → signaling → export files + truth.

A chunk depends only on the world, the scenario, the seed and its own position (random draws are
keyed by subscriber block, dirt by part number), so chunks can run in any process, in any order:
each writes its own part files, and hands its truth tables back to be appended in chunk order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from episignal.simulate import scenarios as sc
from episignal.simulate.carriers import CARRIERS
from episignal.simulate.exports import FILE_SUFFIX, CellStrings, cell_strings, write_export
from episignal.simulate.movement import Movement, plan_movement
from episignal.simulate.population import Population, build_population
from episignal.simulate.randomness import SubscriberRandom
from episignal.simulate.signaling import Events, cell_index, generate_events
from episignal.simulate.truth import true_itineraries, true_stays
from episignal.simulate.world import World

DEFAULT_ITINERARY_DAYS = 14
DEFAULT_ITINERARY_HOURS = 4.0
DIRT_STREAM = 0xD1_27  # the dirt generator of part p is seeded by (seed, DIRT_STREAM, p)

SUBSCRIBERS_SCHEMA = pa.schema(
    [
        ("msisdn", pa.string()),
        ("carrier", pa.string()),  # PLMN at the start of the window
        ("carrier_after_port", pa.string()),  # PLMN after the port (same when not ported)
        ("home_county", pa.string()),
        ("home_prefecture", pa.string()),
        ("border_resident", pa.bool_()),
        ("transit", pa.bool_()),
        ("sparse", pa.bool_()),
        ("roaming", pa.bool_()),
        ("ported", pa.bool_()),
        ("new_sim", pa.bool_()),
        ("night_off", pa.bool_()),
        ("worker", pa.bool_()),
        ("traveller", pa.bool_()),
        ("day_tripper", pa.bool_()),
        ("migrant", pa.bool_()),
        ("lockdown_leaver", pa.bool_()),
        ("activation_utc_s", pa.int64()),  # null unless a new SIM
        ("port_utc_s", pa.int64()),  # null unless ported
    ]
)


@dataclass(frozen=True)
class SimulationSetup:
    """What every chunk of one run shares (picklable: sent once to each worker process)."""

    world: World
    scenario: sc.Scenario
    seed: int
    raw_dir: Path
    canonical: bool
    dirt: bool
    window_start_s: int
    window_end_s: int


@dataclass
class ChunkResult:
    """A chunk's truth tables (appended to the truth files in chunk order) and its accounting."""

    part: int
    subscribers: int
    events: int
    stays: pa.Table
    itineraries: list[pa.Table]  # one table per simulated date, written in that order
    subscriber_table: pa.Table
    dirt_rows: list[tuple[str, str, int]] = field(default_factory=list)
    rows_by_format: dict[str, int] = field(default_factory=dict)


def simulate_chunk(setup: SimulationSetup, part: int, first: int, n: int) -> ChunkResult:
    """Simulate subscribers first..first+n-1: write their part files, return their truth."""
    world, scenario = setup.world, setup.scenario
    ws, we = setup.window_start_s, setup.window_end_s
    rnd = SubscriberRandom(setup.seed, first, n)
    pop = build_population(world, scenario, rnd, first, ws, we)
    mov = plan_movement(world, scenario, pop, rnd, ws)
    ev = generate_events(world, pop, mov, rnd, ws, we)
    e164 = np.char.add("86", pop.number.astype(str)).astype(object)
    stays = true_stays(world, pop, mov, e164, we)
    dates = [scenario.start + dt.timedelta(days=d) for d in range(scenario.days)]
    result = ChunkResult(
        part=part,
        subscribers=n,
        events=len(ev),
        stays=stays,
        itineraries=[
            true_itineraries(stays, d, DEFAULT_ITINERARY_DAYS, DEFAULT_ITINERARY_HOURS)
            for d in dates
        ],
        subscriber_table=subscriber_table(world, pop, mov, stays, e164),
    )
    _write_exports(setup, part, ev, pop, result)
    return result


def _write_exports(
    setup: SimulationSetup, part: int, ev: Events, pop: Population, result: ChunkResult
) -> None:
    strings = _cell_strings(setup.world)
    plmns = [c.plmn for c in CARRIERS]
    file_rng = np.random.default_rng([setup.seed, DIRT_STREAM, part]) if setup.dirt else None
    fields = ("sub", "ts_s", "cell", "event_type", "carrier", "style")
    exports: list[tuple[str, str, Events]] = []
    for k, spec in enumerate(CARRIERS):
        sel = np.flatnonzero(ev.carrier == k)
        own = Events(*(getattr(ev, f)[sel] for f in fields))
        exports.append((spec.export_format, spec.plmn, own))
    if setup.canonical:
        exports.append(("canonical", CARRIERS[0].plmn, ev))
    for fmt, plmn, events in exports:
        rel = f"{fmt}/part-{part:04d}.{FILE_SUFFIX[fmt]}"
        counts = write_export(
            setup.raw_dir / rel, fmt, events, pop.number, strings, plmns, plmn, file_rng
        )
        result.rows_by_format[fmt] = sum(counts.values())
        result.dirt_rows += [(rel, kind, c) for kind, c in counts.items()]


_STRINGS: dict[int, CellStrings] = {}


def _cell_strings(world: World) -> CellStrings:
    """The per-cell export strings, built once per world and process."""
    key = id(world)
    if key not in _STRINGS:
        _STRINGS.clear()
        _STRINGS[key] = cell_strings(cell_index(world))
    return _STRINGS[key]


def subscriber_table(
    world: World, pop: Population, mov: Movement, stays: pa.Table, e164: np.ndarray
) -> pa.Table:
    """The truth's subscribers rows of a chunk: numbers, carriers, homes and hard-group tags."""
    n = len(pop)
    plmn = np.array([c.plmn for c in CARRIERS], dtype=object)
    numbers = pa.array(e164, pa.string())
    # Hash lookups (Arrow), not numpy's sort-based isin over Python strings: a chunk has ~10^4
    # subscribers and ~10^5 stays, and the latter took seconds per chunk.
    passing = stays.filter(stays["on_the_move"])["msisdn"]
    transit = pc.is_in(numbers, value_set=pc.unique(passing)).to_numpy(zero_copy_only=False)
    abroad = stays.filter(pc.equal(pc.utf8_length(stays["place_code"]), 2))["msisdn"]
    roaming = pc.is_in(numbers, value_set=pc.unique(abroad)).to_numpy(zero_copy_only=False)
    zeros = np.zeros(n, bool)
    return pa.table(
        {
            "msisdn": numbers,
            "carrier": pa.array(plmn[pop.carrier], pa.string()),
            "carrier_after_port": pa.array(plmn[pop.port_carrier], pa.string()),
            "home_county": pa.array(world.county_code[pop.home_county], pa.string()),
            "home_prefecture": pa.array(
                world.prefecture_code[world.county_prefecture[pop.home_county]], pa.string()
            ),
            "border_resident": pop.border_resident,
            "transit": transit,
            "sparse": pop.sparse,
            "roaming": roaming,
            "ported": pop.ported,
            "new_sim": pop.new_sim,
            "night_off": pop.night_off,
            "worker": pop.worker,
            "traveller": mov.tags.get("traveller", zeros),
            "day_tripper": mov.tags.get("day_trips", zeros),
            "migrant": mov.tags.get("migrant", zeros),
            "lockdown_leaver": mov.tags.get("lockdown_leaver", zeros),
            "activation_utc_s": pa.array(pop.activation_s, pa.int64(), mask=~pop.new_sim),
            "port_utc_s": pa.array(pop.port_s, pa.int64(), mask=~pop.ported),
        },
        schema=SUBSCRIBERS_SCHEMA,
    )
