"""Core pipeline benchmark: ingest and processing throughput on DuckDB; floor and trackintel.

.venv/bin/python bench/bench_core.py [--sizes 1000000 10000000 100000000] [--repeats 3]
                                     [--trackintel-max 1000000] [--work DIR] [--no-write] [--merge]

Per size, in one run: a synthetic canonical feed is generated (this file's own vectorised numpy
generator, not the project simulator: ~40 events per subscriber-day over 14 local days, home and
work cells in a home city, day trips to other cities, rows in random order like a real feed), then

- ingest: ``episignal ingest --format canonical --cells CELLS EVENTS.csv`` as a child process;
- processing: ``itineraries_for_date(last date, 14 days)`` with a cold state (no stays/spans), i.e.
  clean → stays → itineraries for every event, as a child process;
- floor: DuckDB reading the ingested events and ordering them by subscriber and time once
  (a LAG over ``PARTITION BY subscriber ORDER BY ts_utc_s``, summed), as a child process;
- trackintel: ``generate_staypoints`` on the same events (cell coordinates as positionfixes) for
  sizes up to ``--trackintel-max``, at its fastest setting on the machine: at the first size it
  runs, each of TRACKINTEL_JOB_CHOICES is tried and the fastest is kept for the larger sizes.

Wall times, CPU times (user + sys: less sensitive to other work on the machine) and peak RSS are
per child process (``os.wait4``). Processing and floor run ``--repeats`` times at every size and
their medians are reported (this machine's noise is several seconds at 100 M), and so does ingest,
each time into an empty data directory (the feed is read from disk every time: this machine's page
cache does not keep a file of several GB for long).
Writes the "## Core pipeline" section of BENCHMARKS.md and the raw numbers to
bench/results/core.json; ``--merge`` keeps the saved results of the sizes not run this time (e.g.
1 M and 10 M in one run, 100 M in another).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from benchmarks_md import show_section

ROOT = Path(__file__).resolve().parents[1]

SECTION = "## Core pipeline"
EVENTS_PER_SUBSCRIBER_DAY = 40
DAYS = 14
FIRST_DAY = dt.date(2020, 1, 10)
CITIES = 60
CELLS_PER_CITY = 25
PAIR_OFFSET_DEG = 0.14  # between the centres of a pair of neighbouring cities' cell clouds
TRIP_PROBABILITY = 0.08  # share of subscriber-days with a day trip to another city
CHUNK_ROWS = 5_000_000
DEFAULT_SIZES = [1_000_000, 10_000_000, 100_000_000]
# trackintel: stays within 2 km for at least 30 min; signaling is sparse (a record every ~35 min),
# so gaps up to 12 h still belong to one stay; the last stay is kept, as the engine keeps it.
TRACKINTEL_PARAMS = {
    "dist_threshold": 2000,
    "time_threshold": 30.0,
    "gap_threshold": 12 * 60.0,
    "include_last": True,
}
# generate_staypoints' n_jobs (joblib, a task per user): which is fastest depends on the machine
# (on one host 2 jobs took twice as long as 1 on 200,000 events of this feed, on another 1 M
# events took 27 s with 2 and 32 s with 1), so the bench tries each and keeps the fastest.
TRACKINTEL_JOB_CHOICES = (1, 2)
LOCAL_OFFSET_S = 8 * 3600
EVENT_TYPES = np.array(["periodic_update", "location_update", "handover", "call", "sms", "data"])

# ---- synthetic feed -------------------------------------------------------------------------


def _cells(rng: np.random.Generator) -> pa.Table:
    from episignal.geo import divisions

    seen: set[str] = set()
    counties = []
    for d in sorted(divisions(), key=lambda d: d.code):
        if d.level.value == "county" and d.lon and d.prefecture_code not in seen:
            seen.add(d.prefecture_code)
            counties.append(d)
    counties = counties[:: max(1, len(counties) // CITIES)][:CITIES]
    rows = {c: [] for c in ("cell_id", "carrier", "lon", "lat", "radius_m", "county_code")}
    for ci, county in enumerate(counties):
        # Cities come in pairs side by side (the second's cells just east of the first's), so
        # the cells along their shared edge overlap: border cells, as real feeds have.
        lon0 = county.lon if ci % 2 == 0 else counties[ci - 1].lon + PAIR_OFFSET_DEG
        lat0 = county.lat if ci % 2 == 0 else counties[ci - 1].lat
        for k in range(CELLS_PER_CITY):
            rows["cell_id"].append(f"46000-{1000 + ci}-{k + 1}")
            rows["carrier"].append("46000")
            rows["lon"].append(round(lon0 + rng.uniform(-0.08, 0.08), 5))
            rows["lat"].append(round(lat0 + rng.uniform(-0.08, 0.08), 5))
            rows["radius_m"].append(float(rng.integers(500, 2000)))
            rows["county_code"].append(county.code)
    t = pa.table(rows)
    return t.append_column("country", pa.array(["CN"] * t.num_rows))


def generate(n_events: int, directory: Path, seed: int = 1) -> tuple[Path, Path, dt.date]:
    """cells.csv and events.csv (canonical) with ``n_events`` rows; (cells, events, last day)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    cells = _cells(rng)
    cells_path, events_path = directory / "cells.csv", directory / "events.csv"
    pacsv.write_csv(cells, cells_path, pacsv.WriteOptions(quoting_style="none"))
    n_cells = cells.num_rows
    n_subs = max(1, n_events // (EVENTS_PER_SUBSCRIBER_DAY * DAYS))
    city = rng.integers(CITIES, size=n_subs)
    home = city * CELLS_PER_CITY + rng.integers(CELLS_PER_CITY, size=n_subs)
    work = city * CELLS_PER_CITY + rng.integers(CELLS_PER_CITY, size=n_subs)
    trip = rng.random((n_subs, DAYS)) < TRIP_PROBABILITY
    trip_cell = rng.integers(n_cells, size=(n_subs, DAYS))
    msisdn = pa.array([f"+86138{i:08d}" for i in range(n_subs)])
    cell_ids = cells["cell_id"].combine_chunks()
    event_types = pa.array(EVENT_TYPES)
    first_local = (FIRST_DAY - dt.date(1970, 1, 1)).days * 86_400
    weekday = np.array([(FIRST_DAY + dt.timedelta(days=d)).weekday() < 5 for d in range(DAYS)])
    options = pacsv.WriteOptions(quoting_style="none", include_header=True)
    schema = pa.schema([(c, pa.string()) for c in ("msisdn", "ts", "cell_id", "event_type")])
    with pacsv.CSVWriter(events_path, schema, write_options=options) as writer:
        for start in range(0, n_events, CHUNK_ROWS):
            n = min(CHUNK_ROWS, n_events - start)
            sub = rng.integers(n_subs, size=n)
            day = rng.integers(DAYS, size=n)
            sec = rng.integers(86_400, size=n)
            hour = sec // 3600
            cell = home[sub].copy()
            at_work = weekday[day] & (hour >= 9) & (hour < 18)
            cell[at_work] = work[sub[at_work]]
            away = trip[sub, day] & (hour >= 9) & (hour < 19)
            cell[away] = trip_cell[sub[away], day[away]]
            local = pa.array(first_local + day * 86_400 + sec, pa.timestamp("s"))
            ts = pc.binary_join_element_wise(
                pc.strftime(local, "%Y-%m-%dT%H:%M:%S"), pa.scalar("+08:00"), ""
            )
            writer.write_table(
                pa.table(
                    {
                        "msisdn": msisdn.take(pa.array(sub)),
                        "ts": ts,
                        "cell_id": cell_ids.take(pa.array(cell)),
                        "event_type": event_types.take(
                            pa.array(rng.integers(len(EVENT_TYPES), size=n))
                        ),
                    },
                    schema=schema,
                )
            )
    return cells_path, events_path, FIRST_DAY + dt.timedelta(days=DAYS - 1)


# ---- measured children ----------------------------------------------------------------------


def run_child(cmd: list[str], timeout_s: float | None = None) -> dict:
    """Run ``cmd``; its wall time, peak RSS and the JSON its last stdout line may carry."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = None if timeout_s is None else started + timeout_s
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            proc.kill()
            proc.wait()
            return {"timeout": True, "wall_s": timeout_s}
        time.sleep(0.05)
    wall = time.perf_counter() - started
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{err[-3000:]}")
    result = {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }
    lines = [ln for ln in out.strip().splitlines() if ln.startswith("{")]
    if lines:
        result.update(json.loads(lines[-1]))
    return result


def child_process(data: str, date: str) -> None:
    import ibis

    from episignal.engine.itinerary import itineraries_for_date

    # The call is timed without imports, as trackintel's is: Ibis loads its DuckDB backend on
    # first use (~0.3 s), so it is loaded here, before the timer.
    ibis.duckdb  # noqa: B018
    marks: list[tuple[str, float]] = [("set-up", time.perf_counter())]

    def on_step(name: str, _percent: object = None) -> None:
        marks.append((name, time.perf_counter()))

    started = marks[0][1]
    t = itineraries_for_date(Path(data), dt.date.fromisoformat(date), days=DAYS, on_step=on_step)
    ended = time.perf_counter()
    # Each step lasts from its own call to the next one's (the last, to the call's end).
    ends = [m[1] for m in marks[1:]] + [ended]
    steps = {name: round(end - at, 3) for (name, at), end in zip(marks, ends, strict=True)}
    print(json.dumps({"itinerary_rows": t.num_rows, "seconds": ended - started, "steps": steps}))


def child_floor(data: str) -> None:
    import duckdb

    from episignal.lake import VersionedDataset
    from episignal.layout import Layout

    files = [str(f) for f in VersionedDataset(Layout(Path(data)).events).files()]
    con = duckdb.connect()
    # The query alone is timed too, as the engine's and trackintel's calls are.
    started = time.perf_counter()
    (total,) = con.execute(
        "SELECT sum(gap) FROM (SELECT ts_utc_s - lag(ts_utc_s) OVER "
        "(PARTITION BY subscriber ORDER BY ts_utc_s) AS gap FROM read_parquet(?))",
        [files],
    ).fetchone()
    seconds = time.perf_counter() - started
    print(json.dumps({"checksum": int(total or 0), "seconds": seconds}))


def child_trackintel(data: str, n_jobs: str) -> None:
    import duckdb
    import geopandas as gpd
    import trackintel as ti

    from episignal.lake import VersionedDataset
    from episignal.layout import Layout

    layout = Layout(Path(data))
    events = [str(f) for f in VersionedDataset(layout.events).files()]
    cells = [str(f) for f in VersionedDataset(layout.cells).files()]
    df = (
        duckdb.connect()
        .execute(
            "SELECT e.subscriber AS user_id, to_timestamp(e.ts_utc_s) AS tracked_at, c.lon, c.lat"
            " FROM read_parquet(?) e JOIN read_parquet(?) c USING (cell_id)",
            [events, cells],
        )
        .df()
    )
    pfs = gpd.GeoDataFrame(
        df[["user_id", "tracked_at"]],
        geometry=gpd.points_from_xy(df.lon, df.lat),
        crs="EPSG:4326",
    )
    pfs = ti.Positionfixes(pfs)
    jobs = int(n_jobs)
    started = time.perf_counter()
    _, sp = ti.preprocessing.generate_staypoints(pfs, n_jobs=jobs, **TRACKINTEL_PARAMS)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "events": len(df), "staypoints": len(sp)}))


# ---- the run --------------------------------------------------------------------------------


def _reset_processing(data: Path) -> None:
    for name in ("stays", "spans"):
        shutil.rmtree(data / name, ignore_errors=True)
    (data / "processing-state.json").unlink(missing_ok=True)


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _trackintel(me: list[str], data: Path, chosen: dict[str, int]) -> dict:
    """trackintel's run at its fastest n_jobs: at the first size, each choice is run and the
    fastest kept in ``chosen`` for the larger sizes (a run that times out counts as slowest)."""

    def run(jobs: int) -> dict:
        result = run_child([*me, "_trackintel", str(data), str(jobs)], timeout_s=3600)
        return {**result, "n_jobs": jobs}

    if "n_jobs" in chosen:
        return run(chosen["n_jobs"])
    tries = [run(jobs) for jobs in TRACKINTEL_JOB_CHOICES]
    best = min(tries, key=lambda t: t.get("seconds", math.inf))
    chosen["n_jobs"] = best["n_jobs"]
    return {**best, "tried": [{"n_jobs": t["n_jobs"], "seconds": t.get("seconds")} for t in tries]}


def bench_size(
    n: int, work: Path, repeats: int, trackintel_max: int, trackintel_jobs: dict[str, int]
) -> dict:
    me = [sys.executable, str(Path(__file__).resolve())]
    load_start = os.getloadavg()[0]
    d = work / f"n{n}"
    shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    cells, events, last_day = generate(n, d / "input")
    gen_s = time.perf_counter() - t0
    print(f"[{n:,}] generated in {gen_s:.1f} s", flush=True)
    data = d / "data"
    episignal = [str(Path(sys.executable).with_name("episignal"))]
    # Each ingest into an empty data directory (a second ingest into the same one would be a
    # re-ingest: every row a duplicate of a stored one); processing reads the last one's.
    ingests = []
    for _ in range(repeats):
        shutil.rmtree(data, ignore_errors=True)
        ingests.append(
            run_child(
                [
                    *episignal,
                    "ingest",
                    "--data",
                    str(data),
                    "--format",
                    "canonical",
                    "--cells",
                    str(cells),
                    str(events),
                ]
            )
        )
        print(f"[{n:,}] ingest {ingests[-1]['wall_s']:.1f} s", flush=True)
    reps = repeats
    floor = [run_child([*me, "_floor", str(data)]) for _ in range(reps)]
    print(f"[{n:,}] floor {_median(floor, 'wall_s'):.1f} s", flush=True)
    process = []
    for _ in range(reps):
        _reset_processing(data)
        process.append(run_child([*me, "_process", str(data), last_day.isoformat()]))
        print(f"[{n:,}] processing {process[-1]['wall_s']:.1f} s", flush=True)
    result = {
        "events": n,
        "subscribers": max(1, n // (EVENTS_PER_SUBSCRIBER_DAY * DAYS)),
        "generate_s": gen_s,
        "csv_bytes": events.stat().st_size,
        "ingest": ingests,
        "floor": floor,
        "process": process,
        "repeats": reps,
    }
    if n <= trackintel_max:
        result["trackintel"] = _trackintel(me, data, trackintel_jobs)
        print(f"[{n:,}] trackintel {result['trackintel']}", flush=True)
    shutil.rmtree(d / "input", ignore_errors=True)  # keep the disk for the next size
    result["load"] = [load_start, os.getloadavg()[0]]
    return result


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if "model name" in ln), "?")
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem = next(ln for ln in meminfo if ln.startswith("MemTotal"))
    import duckdb

    return {
        "nproc": os.cpu_count(),
        "memory_gb": round(int(mem.split()[1]) / 1024**2, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "date": dt.date.today().isoformat(),
    }


def _rate(n: int, seconds: float) -> str:
    return f"{n / seconds / 1e6:.2f} M/s"


def _load_note(info: dict, results: list[dict]) -> str:
    """Whether other work shared the machine: times on a busy 2-core machine are pessimistic."""
    loads = [x for r in results for x in r.get("load", [])]
    if not loads and info.get("load_start") is not None and info.get("load_end") is not None:
        loads = [info["load_start"], info["load_end"]]
    if not loads:
        return "Load average during the run: not recorded."
    busy = max(loads) > (info["nproc"] or 1) / 2
    verdict = "shared with other jobs, times are pessimistic" if busy else "otherwise idle"
    return (
        f"1-minute load average {min(loads):.2f} to {max(loads):.2f} at the start and end of each "
        f"size ({verdict})."
    )


def _cpu(runs: list[dict]) -> str:
    """Median CPU time (user + sys) of the runs, if recorded."""
    if not all("cpu_s" in x for x in runs):
        return "—"
    return f"{_median(runs, 'cpu_s'):.1f} s"


def _call_s(runs: list[dict]) -> float | None:
    """Median time of a child's timed call (no process start or imports), if recorded."""
    if not all("seconds" in x for x in runs):
        return None
    return _median(runs, "seconds")


def _trackintel_ratio(r: dict, child: str = "process") -> float | None:
    """A child's rate ÷ trackintel's, both timed around their call (loading and imports
    excluded): the engine's (``process``), or the floor's query (``floor``), what one sort of the
    input reaches against trackintel, so the most any pipeline that sorts it can."""
    t, call = r.get("trackintel"), _call_s(r[child])
    if not t or t.get("timeout") or call is None:
        return None
    return (r["events"] / call) / (t["events"] / t["seconds"])


def _trackintel_cells(r: dict, p_wall: float) -> tuple[str, str]:
    if "trackintel" not in r:
        return "not run", "not run"
    t = r["trackintel"]
    if t.get("timeout"):
        return f"timed out ({t['wall_s'] / 60:.0f} min)", "—"
    rate = t["events"] / t["seconds"]
    by_wall = f"{(r['events'] / p_wall) / rate:,.0f}×"
    by_call = _trackintel_ratio(r)
    return f"{rate:,.0f}/s", (f"{by_call:,.0f}× ({by_wall} by wall)" if by_call else by_wall)


def render(results: list[dict], info: dict, command: str) -> str:
    results = sorted(results, key=lambda r: r["events"])
    jobs = {r["trackintel"].get("n_jobs", 1) for r in results if "trackintel" in r}
    trackintel = ", ".join(f"{k}={v}" for k, v in TRACKINTEL_PARAMS.items())
    lines = [
        SECTION,
        "",
        f"Command: `{command}` on {info['date']}.",
        f"Machine: {info['nproc']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, "
        f"Python {info['python']}, DuckDB {info['duckdb']}. {_load_note(info, results)}",
        "",
        "Feed: this benchmark's own generator (`bench/bench_core.py`, vectorised numpy → CSV): "
        f"{EVENTS_PER_SUBSCRIBER_DAY} events per subscriber-day over {DAYS} local days, home/work "
        f"cells in one of {CITIES} cities ({CELLS_PER_CITY} cells each; cities in pairs side by "
        "side, so about 16 % of cells overlap the neighbour's and go through border resolution), "
        "day trips to other cities "
        "on 8 % of days, rows in random order. Processing = `itineraries_for_date(last day, 14 "
        "days)` from a cold state (clean → stays → itineraries for every event); floor = DuckDB "
        "reading the ingested events and ordering them by subscriber and time once (LAG over "
        "PARTITION BY subscriber ORDER BY ts). trackintel = `generate_staypoints("
        f"{trackintel}, n_jobs={'/'.join(map(str, sorted(jobs))) or '—'})` on "
        "positionfixes at the cells' coordinates, timed around the call only (loading excluded). "
        "processing call = the same for the engine: `itineraries_for_date` alone, without process "
        "start and imports (Ibis's DuckDB backend is loaded before the timer; the call still "
        "includes connecting and reading the events from Parquet); processing ÷ "
        "trackintel compares the two calls, and in brackets the engine's whole process. "
        "Peak memory is the child process's max RSS; CPU is its user + sys time (less sensitive "
        "than wall time to other work on the machine).",
        "",
        "| events | ingest wall | ingest CPU | ingest rows/s | ingest peak RSS | processing wall | "
        "processing call | processing CPU | processing events/s | processing peak RSS | "
        "floor wall | floor CPU | "
        "processing ÷ floor | trackintel events/s | processing ÷ trackintel |",
        "| " + " | ".join(["---"] * 15) + " |",
    ]
    for r in results:
        n = r["events"]
        p_wall, f_wall = _median(r["process"], "wall_s"), _median(r["floor"], "wall_s")
        i_wall = _median(r["ingest"], "wall_s")
        i_rss = max(x["peak_rss_mb"] for x in r["ingest"])
        p_rss = max(x["peak_rss_mb"] for x in r["process"])
        ti_rate, ti_ratio = _trackintel_cells(r, p_wall)
        call = _call_s(r["process"])
        lines.append(
            f"| {n / 1e6:g} M | {i_wall:.1f} s | {_cpu(r['ingest'])} | {_rate(n, i_wall)} "
            f"| {i_rss / 1024:.2f} GB | {p_wall:.1f} s "
            f"| {'—' if call is None else f'{call:.1f} s'} | {_cpu(r['process'])} "
            f"| {_rate(n, p_wall)} | {p_rss / 1024:.2f} GB | {f_wall:.1f} s | {_cpu(r['floor'])} "
            f"| {p_wall / f_wall:.1f}× | {ti_rate} | {ti_ratio} |"
        )
    repeated = [r for r in results if r["repeats"] > 1]
    once = [r for r in results if r["repeats"] == 1]
    note = "Ingest, processing and floor: "
    if repeated:
        sizes = ", ".join(f"{r['events'] / 1e6:g} M" for r in repeated)
        note += f"medians of {repeated[0]['repeats']} runs at {sizes}"
    if once:
        sizes = ", ".join(f"{r['events'] / 1e6:g} M" for r in once)
        note += ("; " if repeated else "") + f"one run at {sizes}"
    lines += ["", note + ".", ""]
    lines += targets(results)
    return "\n".join(lines)


def targets(results: list[dict]) -> list[str]:
    """The issue's targets against the largest size measured."""
    results = sorted(results, key=lambda r: r["events"])
    big = results[-1]
    n = big["events"]
    p_wall = _median(big["process"], "wall_s")
    rate = n / p_wall
    floor_ratio = p_wall / _median(big["floor"], "wall_s")
    rss_gb = max(max(x["peak_rss_mb"] for x in r["process"]) for r in results) / 1024
    ingest = n / _median(big["ingest"], "wall_s")
    # Against trackintel at the largest size it finished (the other sizes are in the table above):
    # the target is about scale, and at small sizes fixed costs (imports, query compilation) weigh.
    ti = [r for r in results if _trackintel_ratio(r)]
    ti_sizes = f"{ti[-1]['events'] / 1e6:g} M" if ti else ""
    ti_ratio = _trackintel_ratio(ti[-1]) if ti else None
    at = f"at {n / 1e6:g} M" + ("" if n >= 100_000_000 else " (100 M not measured)")

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    return [
        f"Targets (issue 2, §7), measured {at}:",
        "",
        "| target | measured | |",
        "| --- | --- | --- |",
        f"| processing ≥ 2 M events/s at 100 M | {rate / 1e6:.2f} M events/s | "
        f"{verdict(rate >= 2e6 and n >= 100_000_000)} |",
        f"| processing within 3× of the floor | {floor_ratio:.1f}× | {verdict(floor_ratio <= 3)} |",
        "| processing ≥ 100× trackintel | "
        + (
            f"{ti_ratio:,.0f}× (at {ti_sizes}, both calls) | {verdict(ti_ratio >= 100)} |"
            if ti_ratio
            else "not run | — |"
        ),
        f"| peak memory < 8 GB (processing) | {rss_gb:.2f} GB | {verdict(rss_gb < 8)} |",
        f"| ingest ≥ 1 M rows/s | {ingest / 1e6:.2f} M rows/s | {verdict(ingest >= 1e6)} |",
        "",
        *_trackintel_bound(ti[-1] if ti else None),
    ]


def _trackintel_bound(r: dict | None) -> list[str]:
    """How far the trackintel target asks the pipeline to be from one sort of its input."""
    bound = None if r is None else _trackintel_ratio(r, "floor")
    if r is None or bound is None:
        return []
    size = f"{r['events'] / 1e6:g} M"
    call, floor_call = _call_s(r["process"]), _call_s(r["floor"])
    return [
        f"The floor's query alone (reading the events and sorting them once, timed around the "
        f"query like the two calls) runs at {bound:,.0f}× trackintel at {size} "
        f"({floor_call:.2f} s). So 100× trackintel asks the whole pipeline — the same sort, "
        f"then cleaning, stays and itineraries, and their writes — to take at most "
        f"{bound / 100:.2f}× the time of that one sort; its call takes "
        f"{call / floor_call:.2f}× ({call:.2f} s).{_steps_note(r)}",
        "",
    ]


def _steps_note(r: dict) -> str:
    """Where the processing call's time goes at this size: each step's median over the runs."""
    runs = [x["steps"] for x in r["process"] if "steps" in x]
    if not runs:
        return ""
    names = list(runs[0])
    parts = [f"{name} {statistics.median(x.get(name, 0.0) for x in runs):.2f} s" for name in names]
    return " Its steps (medians; each from its start to the next's): " + ", ".join(parts) + "."


def _sizes_of(command: str) -> set[int]:
    """The sizes a recorded command of this script measured."""
    words = command.split()
    if "--sizes" not in words:
        return set(DEFAULT_SIZES)
    after = words[words.index("--sizes") + 1 :]
    return {int(w) for w in itertools.takewhile(lambda w: not w.startswith("--"), after)}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        {"_process": child_process, "_floor": child_floor, "_trackintel": child_trackintel}[
            sys.argv[1]
        ](*sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=DEFAULT_SIZES)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--trackintel-max", type=int, default=1_000_000)
    ap.add_argument("--work", type=Path, default=Path("/tmp/episignal-bench-core"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="Keep the saved results (bench/results/core.json) of the sizes not run this time.",
    )
    ap.add_argument(
        "--from-json", type=Path, help="Only render (and write) the section from a saved run."
    )
    args = ap.parse_args()
    out = ROOT / "bench" / "results" / "core.json"
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        text = render(saved["results"], saved["machine"], saved["command"])
        show_section(SECTION, text, write=not args.no_write)
        return
    results, command = [], "python bench/bench_core.py " + " ".join(sys.argv[1:])
    if args.merge and out.exists():
        saved = json.loads(out.read_text())
        results = [r for r in saved["results"] if r["events"] not in args.sizes]
        # An earlier command whose every size is measured anew no longer made any of the rows.
        earlier = [
            c for c in saved["command"].split("`, then `") if not _sizes_of(c) <= set(args.sizes)
        ]
        command = "`, then `".join([*earlier, command])
    out.parent.mkdir(parents=True, exist_ok=True)
    info = machine()
    trackintel_jobs: dict[str, int] = {}
    for n in args.sizes:
        results.append(bench_size(n, args.work, args.repeats, args.trackintel_max, trackintel_jobs))
        saved = {"machine": info, "command": command, "results": results}
        out.write_text(json.dumps(saved, indent=1))
    text = render(results, info, command)
    show_section(SECTION, text, write=not args.no_write)


if __name__ == "__main__":
    main()
