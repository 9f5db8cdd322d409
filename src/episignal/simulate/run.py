"""Run a scenario chunk by chunk, streaming carrier exports and ground truth to the data dir."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from episignal.layout import Layout
from episignal.simulate import scenarios as sc
from episignal.simulate.carriers import CARRIERS
from episignal.simulate.exports import FILE_SUFFIX, cell_strings, write_export
from episignal.simulate.movement import plan_movement
from episignal.simulate.population import build_population
from episignal.simulate.randomness import BLOCK_SUBSCRIBERS, SubscriberRandom
from episignal.simulate.signaling import cell_index, generate_events
from episignal.simulate.truth import (
    ITINERARY_SCHEMA,
    STAYS_SCHEMA,
    local_midnight_utc_s,
    true_itineraries,
    true_stays,
)
from episignal.simulate.world import build_world

CHUNK_SUBSCRIBER_DAYS = 150_000  # bounds memory: ~40 events per subscriber-day in flight
DEFAULT_ITINERARY_DAYS = 14
DEFAULT_ITINERARY_HOURS = 4.0

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
DIRT_SCHEMA = pa.schema([("file", pa.string()), ("kind", pa.string()), ("rows", pa.int64())])


@dataclass
class SimulationSummary:
    scenario: str
    start: dt.date
    days: int
    subscribers: int
    seed: int
    events: int = 0
    rows_by_format: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def events_per_subscriber_day(self) -> float:
        return self.events / max(self.subscribers * self.days, 1)

    def as_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "start": self.start.isoformat(),
            "days": self.days,
            "subscribers": self.subscribers,
            "seed": self.seed,
            "events": self.events,
            "rows_by_format": self.rows_by_format,
            "seconds": round(self.seconds, 2),
            "events_per_subscriber_day": round(self.events_per_subscriber_day, 2),
        }


def chunk_size_for(days: int) -> int:
    n = max(CHUNK_SUBSCRIBER_DAYS // max(days, 1), BLOCK_SUBSCRIBERS)
    return n - n % BLOCK_SUBSCRIBERS


def _reset_outputs(layout: Layout, canonical: bool) -> None:
    """Remove what a previous simulation left, so no stale part files mix into this one."""
    for fmt in ("carrier-a", "carrier-b", "carrier-c", "canonical"):
        shutil.rmtree(layout.raw / fmt, ignore_errors=True)
    layout.raw_cells.unlink(missing_ok=True)
    shutil.rmtree(layout.truth, ignore_errors=True)
    layout.raw.mkdir(parents=True, exist_ok=True)
    layout.truth.mkdir(parents=True, exist_ok=True)


def simulate_to(
    data_dir: Path,
    scenario_name: str = "baseline",
    subscribers: int = 10_000,
    days: int | None = None,
    seed: int = 1,
    start: dt.date | None = None,
    canonical: bool = False,
    chunk_subscribers: int | None = None,
    dirt: bool = True,
    on_chunk: Callable[[int, int, int], None] | None = None,
) -> SimulationSummary:
    """Simulate a scenario into data_dir (raw/ exports, truth/ ground truth)."""
    began = time.perf_counter()
    scenario = sc.scenario(scenario_name, start, days)
    layout = Layout(Path(data_dir)).ensure()
    _reset_outputs(layout, canonical)
    world = build_world(seed)
    world.cells_table().to_pandas().to_csv(layout.raw_cells, index=False)
    index = cell_index(world)
    strings = cell_strings(index)
    plmns = [c.plmn for c in CARRIERS]
    ws = local_midnight_utc_s(scenario.start)
    we = ws + scenario.days * 86400
    chunk = chunk_subscribers or chunk_size_for(scenario.days)
    if chunk % BLOCK_SUBSCRIBERS:
        raise ValueError(f"chunk size must be a multiple of {BLOCK_SUBSCRIBERS}")
    summary = SimulationSummary(scenario.name, scenario.start, scenario.days, subscribers, seed)
    summary.rows_by_format = {c.export_format: 0 for c in CARRIERS}
    if canonical:
        summary.rows_by_format["canonical"] = 0
    dates = [scenario.start + dt.timedelta(days=d) for d in range(scenario.days)]
    dirt_rows: list[tuple[str, str, int]] = []
    sub_writer = pq.ParquetWriter(layout.truth / "subscribers.parquet", SUBSCRIBERS_SCHEMA)
    stay_writer = pq.ParquetWriter(layout.truth / "stays.parquet", STAYS_SCHEMA)
    itin_writer = pq.ParquetWriter(layout.truth / "itineraries.parquet", ITINERARY_SCHEMA)
    try:
        for part, first in enumerate(range(0, subscribers, chunk)):
            n = min(chunk, subscribers - first)
            rnd = SubscriberRandom(seed, first, n)
            pop = build_population(world, scenario, rnd, first, ws, we)
            mov = plan_movement(world, scenario, pop, rnd, ws)
            ev = generate_events(world, pop, mov, rnd, ws, we)
            e164 = np.char.add("86", pop.number.astype(str)).astype(object)
            stays = true_stays(world, pop, mov, e164, we)
            stay_writer.write_table(stays)
            for d in dates:
                itin_writer.write_table(
                    true_itineraries(stays, d, DEFAULT_ITINERARY_DAYS, DEFAULT_ITINERARY_HOURS)
                )
            sub_writer.write_table(_subscriber_table(world, pop, mov, stays, e164))
            file_rng = np.random.default_rng([seed, 0xD1_27, part]) if dirt else None
            for k, spec in enumerate(CARRIERS):
                sel = np.flatnonzero(ev.carrier == k)
                sub_ev = type(ev)(
                    *(
                        getattr(ev, f)[sel]
                        for f in ("sub", "ts_s", "cell", "event_type", "carrier", "style")
                    )
                )
                rel = f"{spec.export_format}/part-{part:04d}.{FILE_SUFFIX[spec.export_format]}"
                counts = write_export(
                    layout.raw / rel,
                    spec.export_format,
                    sub_ev,
                    pop.number,
                    strings,
                    plmns,
                    spec.plmn,
                    file_rng,
                )
                summary.rows_by_format[spec.export_format] += sum(counts.values())
                dirt_rows += [(rel, kind, c) for kind, c in counts.items()]
            if canonical:
                rel = f"canonical/part-{part:04d}.csv"
                counts = write_export(
                    layout.raw / rel, "canonical", ev, pop.number, strings, plmns, "46000", file_rng
                )
                summary.rows_by_format["canonical"] += sum(counts.values())
                dirt_rows += [(rel, kind, c) for kind, c in counts.items()]
            summary.events += len(ev)
            if on_chunk:
                on_chunk(part, n, len(ev))
    finally:
        sub_writer.close()
        stay_writer.close()
        itin_writer.close()
    pq.write_table(
        pa.table(
            {
                "file": [r[0] for r in dirt_rows],
                "kind": [r[1] for r in dirt_rows],
                "rows": pa.array([r[2] for r in dirt_rows], pa.int64()),
            },
            schema=DIRT_SCHEMA,
        ),
        layout.truth / "dirt.parquet",
    )
    summary.seconds = time.perf_counter() - began
    (layout.truth / "manifest.json").write_text(json.dumps(summary.as_json(), indent=2) + "\n")
    return summary


def _subscriber_table(world, pop, mov, stays: pa.Table, e164: np.ndarray) -> pa.Table:
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
