"""A small hand-built week of signaling with the behaviours that make the stay rules hard.

Five subscribers over 2020-01-10 … 2020-01-16 (local days, Asia/Shanghai), written as a canonical
events CSV (rows shuffled like a real feed, mixed UTC offsets) and a cells CSV:

- commuter: sleeps in 武汉 江岸, works in 武汉 武昌 on weekdays;
- transit: lives in 北京, on 01-14 takes a train to 武汉 through 孝感 (an hour there), stays in 武汉
  until 01-15, goes home;
- border: lives on the 武汉/孝感 border, the phone flips between both cities' overlapping cells all
  the time (now and then two records in the same second, one on each); on 01-15 spends
  10:00-17:00 in 孝感 proper;
- traveller: lives in 上海, in Japan (roaming) from 01-14 to 01-15;
- night_off: lives in 武汉, phone off 23:00-07:00 every night; 01-15 10:00-15:00 in 孝感.

Everything that tests a rule happens in the last three days; the days before are context.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

LOCAL = dt.timezone(dt.timedelta(hours=8))
FIRST_DAY = dt.date(2020, 1, 10)
N_DAYS = 7
DAYS = [FIRST_DAY + dt.timedelta(days=i) for i in range(N_DAYS)]
STEP_MINUTES = 25  # about the density of a real active phone

# cell_id → (carrier, lon, lat, radius_m, county_code, country)
CELLS: dict[str, tuple[str, float, float, float, str, str]] = {
    "46000-4201-1": ("46000", 114.309, 30.600, 800.0, "420102", "CN"),  # 武汉 江岸 (home)
    "46000-4201-2": ("46000", 114.317, 30.554, 800.0, "420106", "CN"),  # 武汉 武昌 (work)
    "46000-4201-9": ("46000", 114.000, 30.700, 3000.0, "420102", "CN"),  # 武汉 side of the border
    "46000-4209-9": ("46000", 114.020, 30.705, 3000.0, "420984", "CN"),  # 孝感 side, overlapping
    "46000-4209-1": ("46000", 113.911, 30.917, 800.0, "420902", "CN"),  # 孝感 孝南
    "46000-1101-1": ("46000", 116.416, 39.928, 800.0, "110101", "CN"),  # 北京 东城
    "46000-3101-1": ("46000", 121.484, 31.232, 800.0, "310101", "CN"),  # 上海 黄浦
    "44010-100-1": ("46000", 139.767, 35.681, 800.0, "", "JP"),  # 東京, roaming
}
HOME, WORK, BORDER_W, BORDER_X, XIAOGAN, BEIJING, SHANGHAI, TOKYO = CELLS

SUBSCRIBERS = {
    "commuter": "+8613800000001",
    "transit": "8613800000002",
    "border": "+8613800000003",
    "traveller": "8613800000004",
    "night_off": "+8613800000005",
}


def _at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), LOCAL) + dt.timedelta(hours=hour)


def _every(
    start: dt.datetime, end: dt.datetime, cell: str | list[str], rng: random.Random
) -> list[tuple[dt.datetime, str]]:
    """A record about every STEP_MINUTES in [start, end), cycling through ``cell`` if a list."""
    cells = [cell] if isinstance(cell, str) else cell
    out, t, i = [], start, 0
    while t < end:
        out.append((t, cells[i % len(cells)]))
        t += dt.timedelta(minutes=STEP_MINUTES + rng.randint(-5, 5), seconds=rng.randint(0, 59))
        i += 1
    return out


def _timeline(who: str, rng: random.Random) -> list[tuple[dt.datetime, str]]:
    start, end = _at(DAYS[0], 0), _at(DAYS[-1], 24)
    if who == "commuter":
        out = []
        for d in DAYS:
            if d.weekday() < 5:
                out += _every(_at(d, 0), _at(d, 8.5), HOME, rng)
                out += _every(_at(d, 9), _at(d, 18), WORK, rng)
                out += _every(_at(d, 18.75), _at(d, 24), HOME, rng)
            else:
                out += _every(_at(d, 0), _at(d, 24), HOME, rng)
        return out
    if who == "transit":
        train_out = _at(DAYS[4], 8)
        return (
            _every(start, train_out, BEIJING, rng)
            + [(train_out + dt.timedelta(hours=3, minutes=5 * i), XIAOGAN) for i in range(13)]
            + _every(train_out + dt.timedelta(hours=4, minutes=30), _at(DAYS[5], 15), HOME, rng)
            + _every(_at(DAYS[5], 20), end, BEIJING, rng)
        )
    if who == "border":
        flip = [BORDER_W, BORDER_X, BORDER_W, BORDER_W, BORDER_X]
        out = (
            _every(start, _at(DAYS[5], 9.5), flip, rng)
            + _every(_at(DAYS[5], 10), _at(DAYS[5], 17), XIAOGAN, rng)
            + _every(_at(DAYS[5], 17.5), end, flip, rng)
        )
        # Simultaneous records on both sides of the border: the order must not depend on the engine.
        other = {BORDER_W: BORDER_X, BORDER_X: BORDER_W}
        return out + [(t, other[c]) for t, c in out[::7] if c in other]
    if who == "traveller":
        return (
            _every(start, _at(DAYS[4], 9), SHANGHAI, rng)
            + _every(_at(DAYS[4], 13), _at(DAYS[5], 18), TOKYO, rng)
            + _every(_at(DAYS[5], 22), end, SHANGHAI, rng)
        )
    if who == "night_off":
        out = []
        for d in DAYS:
            if d == DAYS[5]:
                out += _every(_at(d, 7), _at(d, 9), HOME, rng)
                out += _every(_at(d, 10), _at(d, 15), XIAOGAN, rng)
                out += _every(_at(d, 16), _at(d, 23), HOME, rng)
            else:
                out += _every(_at(d, 7), _at(d, 23), HOME, rng)
        return out
    raise ValueError(who)


def _iso(t: dt.datetime, rng: random.Random) -> str:
    # Feeds mix offsets: the same instant in UTC ("Z") or local time ("+08:00").
    if rng.random() < 0.5:
        return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return t.isoformat()


def write_dataset(directory: Path, seed: int = 7) -> tuple[Path, Path]:
    """Write cells.csv and events.csv into ``directory``; returns (cells, events)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    cells_path, events_path = directory / "cells.csv", directory / "events.csv"
    with cells_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["cell_id", "carrier", "lon", "lat", "radius_m", "county_code", "country"])
        for cell_id, row in CELLS.items():
            w.writerow([cell_id, *row])
    rows = []
    for who, msisdn in SUBSCRIBERS.items():
        for t, cell in _timeline(who, rng):
            rows.append(
                [msisdn, _iso(t, rng), cell, rng.choice(["periodic_update", "data", "sms"])]
            )
    rng.shuffle(rows)
    with events_path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["msisdn", "ts", "cell_id", "event_type"])
        w.writerows(rows)
    return cells_path, events_path
