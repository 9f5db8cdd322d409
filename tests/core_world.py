"""A tiny hand-made world for the core pipeline's tests: a few cities, cells and timelines."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path

from episignal.ingest.run import ingest_files

DAY0 = dt.date(2020, 1, 20)
CST = dt.timezone(dt.timedelta(hours=8))

# (cell_id, carrier, lon, lat, radius_m, county_code, country)
CELLS = [
    ("46000-1-1", "46000", 114.00, 30.60, 1000, "420102", "CN"),  # 武汉 interior
    ("46001-1-1", "46001", 114.00, 30.60, 1000, "420102", "CN"),  # the same site, carrier B
    ("46011-1-1", "46011", 114.00, 30.60, 1000, "420102", "CN"),  # the same site, carrier C
    ("46000-1-2", "46000", 114.20, 30.60, 2000, "420102", "CN"),  # 武汉, by the 孝感 border
    ("46000-2-1", "46000", 114.23, 30.60, 2000, "420902", "CN"),  # 孝感, by the 武汉 border
    ("46000-2-2", "46000", 114.50, 30.60, 1000, "420902", "CN"),  # 孝感 interior
    ("46000-3-1", "46000", 114.89, 30.39, 1000, "420702", "CN"),  # 鄂州 (on the railway)
    ("46000-4-1", "46000", 115.50, 30.45, 1000, "421102", "CN"),  # 黄冈
    ("46000-5-1", "46000", 116.41, 39.93, 800, "110101", "CN"),  # 北京
    ("44010-1-1", "46000", 139.69, 35.68, 500, "", "JP"),  # 东京, a roaming partner's cell
]
WUHAN, XIAOGAN, EZHOU, HUANGGANG, BEIJING = "420100", "420900", "420700", "421100", "110000"


def at(day: int, hhmm: str) -> dt.datetime:
    h, m = map(int, hhmm.split(":"))
    return dt.datetime.combine(DAY0 + dt.timedelta(days=day), dt.time(h, m), CST)


def every(start: dt.datetime, end: dt.datetime, cell: str, minutes: int = 15) -> list[tuple]:
    out, t = [], start
    while t <= end:
        out.append((t, cell))
        t += dt.timedelta(minutes=minutes)
    return out


def write_cells(path: Path) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cell_id", "carrier", "lon", "lat", "radius_m", "county_code", "country"])
        w.writerows(CELLS)
    return path


def write_events(path: Path, timelines: dict[str, Iterable[tuple]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msisdn", "ts", "cell_id", "event_type"])
        for msisdn, rows in timelines.items():
            for ts, cell in rows:
                w.writerow([msisdn, ts.isoformat(), cell, "data"])
    return path


def ingest(data: Path, timelines: dict[str, Iterable[tuple]], name: str = "events.csv") -> None:
    cells = write_cells(data.parent / "cells.csv")
    events = write_events(data.parent / name, timelines)
    ingest_files(data, "canonical", [events], cells_path=cells)
