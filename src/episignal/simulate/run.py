"""Run a scenario chunk by chunk, streaming carrier exports and ground truth to the data dir.

Chunks run in worker processes (`workers`), each writing its own export part files; their truth
tables come back and are appended in chunk order, so the files are the same, byte for byte, for any
number of workers. Memory is bounded per worker by the chunk size, and at most two chunks per
worker are in flight.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import json
import multiprocessing
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from episignal.layout import Layout
from episignal.simulate import scenarios as sc
from episignal.simulate.carriers import CARRIERS
from episignal.simulate.chunk import (
    SUBSCRIBERS_SCHEMA,
    ChunkResult,
    SimulationSetup,
    simulate_chunk,
)
from episignal.simulate.randomness import BLOCK_SUBSCRIBERS
from episignal.simulate.truth import ITINERARY_SCHEMA, STAYS_SCHEMA, local_midnight_utc_s
from episignal.simulate.world import build_world

CHUNK_SUBSCRIBER_DAYS = 150_000  # bounds memory: ~40 events per subscriber-day in flight
IN_FLIGHT_PER_WORKER = 2  # chunks queued per worker: keeps it busy while results are written
DIRT_SCHEMA = pa.schema([("file", pa.string()), ("kind", pa.string()), ("rows", pa.int64())])


def default_workers() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    workers: int | None = 1,
) -> SimulationSummary:
    """Simulate a scenario into data_dir (raw/ exports, truth/ ground truth).

    workers: processes generating chunks (None: one per core); the output does not depend on it.
    """
    began = time.perf_counter()
    scenario = sc.scenario(scenario_name, start, days)
    layout = Layout(Path(data_dir)).ensure()
    _reset_outputs(layout, canonical)
    world = build_world(seed)
    world.cells_table().to_pandas().to_csv(layout.raw_cells, index=False)
    ws = local_midnight_utc_s(scenario.start)
    setup = SimulationSetup(
        world, scenario, seed, layout.raw, canonical, dirt, ws, ws + scenario.days * 86400
    )
    chunk = chunk_subscribers or chunk_size_for(scenario.days)
    if chunk % BLOCK_SUBSCRIBERS:
        raise ValueError(f"chunk size must be a multiple of {BLOCK_SUBSCRIBERS}")
    jobs = [
        (part, first, min(chunk, subscribers - first))
        for part, first in enumerate(range(0, subscribers, chunk))
    ]
    summary = SimulationSummary(scenario.name, scenario.start, scenario.days, subscribers, seed)
    summary.rows_by_format = {c.export_format: 0 for c in CARRIERS}
    if canonical:
        summary.rows_by_format["canonical"] = 0
    dirt_rows: list[tuple[str, str, int]] = []
    sub_writer = pq.ParquetWriter(layout.truth / "subscribers.parquet", SUBSCRIBERS_SCHEMA)
    stay_writer = pq.ParquetWriter(layout.truth / "stays.parquet", STAYS_SCHEMA)
    itin_writer = pq.ParquetWriter(layout.truth / "itineraries.parquet", ITINERARY_SCHEMA)
    try:
        for result in _run_chunks(setup, jobs, workers or default_workers()):
            stay_writer.write_table(result.stays)
            for table in result.itineraries:
                itin_writer.write_table(table)
            sub_writer.write_table(result.subscriber_table)
            for fmt, rows in result.rows_by_format.items():
                summary.rows_by_format[fmt] += rows
            dirt_rows += result.dirt_rows
            summary.events += result.events
            if on_chunk:
                on_chunk(result.part, result.subscribers, result.events)
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


def _run_chunks(
    setup: SimulationSetup, jobs: list[tuple[int, int, int]], workers: int
) -> Iterator[ChunkResult]:
    """Chunk results in chunk order, computed here or by up to `workers` worker processes."""
    workers = max(1, min(workers, len(jobs)))
    if workers == 1:
        for job in jobs:
            yield simulate_chunk(setup, *job)
        return
    # Spawned, not forked: forking a process that has run Arrow's and the KD-tree's threads is not
    # safe in general; the world travels once per worker instead (a few MB pickled).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(setup,)
    ) as pool:
        pending: deque[Future[ChunkResult]] = deque()
        queue = iter(jobs)
        try:
            for job in queue:
                pending.append(pool.submit(_worker_chunk, *job))
                if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    break
            while pending:
                result = pending.popleft().result()
                next_job = next(queue, None)
                if next_job is not None:
                    pending.append(pool.submit(_worker_chunk, *next_job))
                yield result
        finally:
            for future in pending:
                future.cancel()


_WORKER_SETUP: SimulationSetup | None = None


def _init_worker(setup: SimulationSetup) -> None:
    global _WORKER_SETUP
    _WORKER_SETUP = setup
    _keep_freed_memory()


# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_TRIM_THRESHOLD_BYTES = 1 << 30


def _keep_freed_memory() -> None:
    """Let a worker reuse the memory it frees instead of handing it back to the kernel.

    A chunk allocates and frees arrays of tens of MB by the hundred; by default each is mapped
    fresh and the kernel zeroes every page again (the largest item of a `perf` profile, ~30 %).
    The worker's peak stays what one chunk needs. Only worker processes are tuned, never the caller.
    """
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: keep the allocator's defaults
        return
    libc.mallopt(_M_MMAP_MAX, 0)
    libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES)


def _worker_chunk(part: int, first: int, n: int) -> ChunkResult:
    if _WORKER_SETUP is None:
        raise RuntimeError("simulation worker used before its initializer ran")
    return simulate_chunk(_WORKER_SETUP, part, first, n)
