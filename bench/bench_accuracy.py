"""Accuracy under networks and feeds shaped unlike the simulator's own, through the contracts.

.venv/bin/python bench/bench_accuracy.py [--subscribers 5000] [--seed 1] [--work DIR] [--no-write]
                                         [--from-json FILE]

The itineraries will be judged on scenarios we do not see, fed through the contracts (a cells
file and canonical events). This script takes one simulated world (baseline scenario, 14 days),
ingests the carriers' own exports as the demo does, then re-expresses the same subscribers' records
as a cells file and a canonical events file, changed in one way per variant, and feeds each through
``episignal ingest --format canonical`` and ``episignal evaluate``:

- ``canonical``: unchanged; must score exactly as the carrier exports (the contract loses nothing);
- ``radius ×F``: every cell's ``radius_m`` multiplied by F (another planning tool's idea of
  coverage; it decides which cells are border cells);
- ``records P %``: a deterministic P % sample of the records (a sparser feed: CDR-like data);
- ``network 1/K``: one cell in K kept (per carrier, outside China all kept), each record moved to
  the kept cell nearest its own, radii × √K (a coarser network: rural, or an older generation).

The truth (the simulator's stays) is the same for every variant. Writes the "## Accuracy under
other networks and feeds" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

from benchmarks_md import show_section

ROOT = Path(__file__).resolve().parents[1]
EPISIGNAL = str(Path(sys.executable).with_name("episignal"))
SECTION = "## Accuracy under other networks and feeds"
GROUPS = ("all", "border_resident", "transit", "sparse")


@dataclass(frozen=True)
class Variant:
    name: str
    radius_factor: float = 1.0
    keep_records: float = 1.0  # share of records kept
    keep_one_cell_in: int = 1


VARIANTS = (
    Variant("canonical"),
    Variant("radius ×0.5", radius_factor=0.5),
    Variant("radius ×2", radius_factor=2.0),
    Variant("radius ×4", radius_factor=4.0),
    Variant("records 25 %", keep_records=0.25),
    Variant("records 10 %", keep_records=0.10),
    Variant("network 1/4", keep_one_cell_in=4),
    Variant("network 1/8", keep_one_cell_in=8),
)


def run(*args: str) -> None:
    subprocess.run([EPISIGNAL, *args], check=True, stdout=subprocess.DEVNULL)


def simulate_world(base: Path, subscribers: int, seed: int) -> None:
    """The demo's path: simulate, then ingest each carrier's own export."""
    from episignal.demo import CARRIER_FILES

    shutil.rmtree(base, ignore_errors=True)
    size = ["--subscribers", str(subscribers), "--days", "14", "--seed", str(seed)]
    run("simulate", *size, "--data", str(base))
    raw = base / "raw"
    for fmt, pattern in CARRIER_FILES.items():
        cells = ["--cells", str(raw / "cells.csv")] if fmt == "carrier-a" else []
        files = [str(f) for f in sorted((raw / fmt).glob(pattern))]
        run("ingest", "--format", fmt, *cells, *files, "--data", str(base))


def canonical_records(base: Path) -> pa.Table:
    """The world's ingested records with their subscribers' numbers back (from the truth): what a
    carrier would export in the canonical format."""
    from episignal.lake import VersionedDataset
    from episignal.layout import Layout
    from episignal.privacy.pseudonym import Pseudonymiser

    layout = Layout(base)
    files = [str(f) for f in VersionedDataset(layout.events).files()]
    events = pq.ParquetDataset(files).read(
        columns=["subscriber", "ts_utc_s", "cell_id", "event_type"]
    )
    numbers = pq.read_table(layout.truth / "subscribers.parquet", columns=["msisdn"])["msisdn"]
    pseudonym = Pseudonymiser.for_data_dir(base)
    by_pseudonym = {pseudonym.of_e164(m): m for m in numbers.to_pylist()}
    msisdn = [by_pseudonym[s] for s in events["subscriber"].to_pylist()]
    records = events.drop_columns(["subscriber"]).add_column(0, "msisdn", pa.array(msisdn))
    # In an order of their own, not the dataset's (which follows the pseudonyms, and so the data
    # directory's random key): the variants' samples are then the same records on every run.
    keys = ["msisdn", "ts_utc_s", "cell_id", "event_type"]
    return records.sort_by([(k, "ascending") for k in keys])


def coarser_network(
    cells: pa.Table, keep_one_in: int, rng: np.random.Generator
) -> tuple[pa.Table, dict[str, str]]:
    """(kept cells with radii × √K, {cell_id: the kept cell nearest it, same carrier})."""
    abroad = pc.not_equal(cells["country"], "CN").to_numpy(zero_copy_only=False)
    keep = abroad | (rng.random(cells.num_rows) < 1 / keep_one_in)
    lat = np.radians(cells["lat"].to_numpy())
    xy = np.c_[np.radians(cells["lon"].to_numpy()) * np.cos(lat), lat]
    ids = np.asarray(cells["cell_id"].to_pylist(), dtype=object)
    carrier = np.asarray(cells["carrier"].to_pylist(), dtype=object)
    moved: dict[str, str] = {}
    for c in np.unique(carrier):
        mine, kept = carrier == c, (carrier == c) & keep
        _, nearest = cKDTree(xy[kept]).query(xy[mine])
        moved.update(zip(ids[mine], ids[kept][nearest], strict=True))
    radius = pc.multiply(cells["radius_m"], float(np.sqrt(keep_one_in)))
    kept_cells = cells.set_column(cells.schema.get_field_index("radius_m"), "radius_m", radius)
    return kept_cells.filter(pa.array(keep)), moved


def write_variant(base: Path, records: pa.Table, v: Variant, out: Path) -> tuple[Path, Path]:
    """The cells file and canonical events file of one variant."""
    out.mkdir(parents=True)
    cells = pacsv.read_csv(
        base / "raw" / "cells.csv",
        convert_options=pacsv.ConvertOptions(
            column_types={
                "cell_id": pa.string(),
                "carrier": pa.string(),
                "county_code": pa.string(),
            }
        ),
    )
    rng = np.random.default_rng(7)
    if v.keep_one_cell_in > 1:
        cells, moved = coarser_network(cells, v.keep_one_cell_in, rng)
        cell_id = pa.array([moved[c] for c in records["cell_id"].to_pylist()])
        records = records.set_column(records.schema.get_field_index("cell_id"), "cell_id", cell_id)
    if v.radius_factor != 1.0:
        radius = pc.multiply(cells["radius_m"], v.radius_factor)
        cells = cells.set_column(cells.schema.get_field_index("radius_m"), "radius_m", radius)
    if v.keep_records < 1.0:
        records = records.filter(pa.array(rng.random(records.num_rows) < v.keep_records))
    local = records["ts_utc_s"].cast(pa.timestamp("s", tz="UTC"))
    local = local.cast(pa.timestamp("s", tz="Asia/Shanghai"))
    ts = pc.strftime(local, format="%Y-%m-%dT%H:%M:%S+08:00")  # no DST in China since 1991
    events = records.set_column(records.schema.get_field_index("ts_utc_s"), "ts", ts)
    cells_csv, events_csv = out / "cells.csv", out / "events.csv"
    pacsv.write_csv(cells, cells_csv)
    pacsv.write_csv(events.select(["msisdn", "ts", "cell_id", "event_type"]), events_csv)
    return cells_csv, events_csv


def evaluate_variant(base: Path, records: pa.Table, v: Variant, work: Path) -> dict:
    data = work / v.name.replace(" ", "_").replace("%", "pct").replace("/", "of").replace("×", "x")
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    shutil.copytree(base / "truth", data / "truth")
    shutil.copy2(
        base / "pseudonym.key", data / "pseudonym.key"
    )  # the truth's numbers → subscribers
    cells_csv, events_csv = write_variant(base, records, v, data / "in")
    run(
        "ingest",
        "--format",
        "canonical",
        "--cells",
        str(cells_csv),
        str(events_csv),
        "--data",
        str(data),
    )
    run("evaluate", "--data", str(data), "--json", str(data / "eval.json"))
    report = json.loads((data / "eval.json").read_text())
    border = border_share(data)
    shutil.rmtree(data / "in")
    return {"variant": v.name, "border_cells": border, "metrics": report["metrics"]}


def border_share(data: Path) -> float:
    from episignal.lake import VersionedDataset
    from episignal.layout import Layout

    files = [str(f) for f in VersionedDataset(Layout(data).cells).files()]
    alt = pq.ParquetDataset(files).read(columns=["alt_place"])["alt_place"]
    return pc.mean(pc.cast(pc.not_equal(alt, ""), pa.int8())).as_py()


def render(rows: list[dict], command: str, date: str) -> str:
    def cell(metrics: list[dict], rule: str, group: str) -> str:
        m = next(x for x in metrics if x["rule"] == rule and x["group"] == group)
        return f"{m['precision']:.1%} / {m['recall']:.1%}".replace("%", " %")

    head = ["variant", "border cells"] + [f"`dwell` {g}" for g in GROUPS] + ["`span` all"]
    lines = [
        SECTION,
        "",
        f"Command: `{command}` on {date}.",
        "",
        "One simulated world (baseline scenario, 14 days, evaluated on its last day with a 14-day "
        "window and 4 hours), its records re-expressed as a cells file and a canonical events "
        "file and changed in one way per row, fed through `episignal ingest --format canonical` "
        "and `episignal evaluate` (see the script's docstring). Precision / recall of listed "
        "places; the truth is the same for every row.",
        "",
        "| " + " | ".join(head) + " |",
        "| " + " | ".join("---" for _ in head) + " |",
    ]
    for r in rows:
        values = [r["variant"], f"{r['border_cells']:.0%}".replace("%", " %")]
        values += [cell(r["metrics"], "dwell", g) for g in GROUPS]
        values.append(cell(r["metrics"], "span", "all"))
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--subscribers", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/episignal-bench-accuracy"))
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument(
        "--from-json", type=Path, help="Only render (and write) the section from a saved run."
    )
    args = ap.parse_args()
    out = ROOT / "bench" / "results" / "accuracy.json"
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        text = render(saved["rows"], saved["command"], saved["date"])
        show_section(SECTION, text, write=not args.no_write)
        return
    command = " ".join(["python bench/bench_accuracy.py", *sys.argv[1:]])
    today = dt.date.today().isoformat()
    base = args.work / "world"
    simulate_world(base, args.subscribers, args.seed)
    run("evaluate", "--data", str(base), "--json", str(base / "eval.json"))
    rows = [
        {
            "variant": "carrier exports",
            "border_cells": border_share(base),
            "metrics": json.loads((base / "eval.json").read_text())["metrics"],
        }
    ]
    records = canonical_records(base)
    for v in VARIANTS:
        rows.append(evaluate_variant(base, records, v, args.work))
        print(render(rows, command, today).splitlines()[-1], flush=True)
    out.write_text(json.dumps({"command": command, "date": today, "rows": rows}, indent=1))
    text = render(rows, command, today)
    show_section(SECTION, text, write=not args.no_write)


if __name__ == "__main__":
    main()
