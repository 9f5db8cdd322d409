"""Carrier exports in their own raw layouts (docs/data-contracts.md), with known, counted dirt.

Lines are assembled column-wise with Arrow string kernels: per-cell and per-second strings are
precomputed once and gathered with `take`, so no Python code runs per row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from episignal.simulate.signaling import CALL, EVENT_TYPES, CellIndex, Events

LOCAL_OFFSET_S = 8 * 3600
FUTURE_SHIFT_S = 11 * 365 * 86400  # an injected "time in the future" lands about 11 years ahead
UNKNOWN_AREA, UNKNOWN_CELL = 999_999, 255  # no simulated cell has this area (counties < 3000)

# Dirt injected per file, as a fraction of its clean rows (the truth records the exact counts).
DIRT_RATES: dict[str, float] = {
    "bad_time": 2e-4,
    "wrong_field_count": 2e-4,
    "unknown_cell": 2e-4,
    "bad_number": 2e-4,
    "future_time": 1e-4,
    "duplicate": 1e-3,
}
FORMATS = ("carrier-a", "carrier-b", "carrier-c", "canonical")
FILE_SUFFIX = {"carrier-a": "txt", "carrier-b": "csv", "carrier-c": "tsv", "canonical": "csv"}
HEADER = {
    "carrier-a": None,
    "carrier-b": "MSISDN,EVENT_TIME_MS,ECI,EVENT,VPLMN",
    "carrier-c": "user\ttime\tecgi\ttype",
    "canonical": "msisdn,ts,cell_id,event_type",
}
SEPARATOR = {"carrier-a": "|", "carrier-b": ",", "carrier-c": "\t", "canonical": ","}
CARRIER_B_EVENT = ("ATTACH", "DETACH", "PLU", "LU", "HO", "MOC", "SMS", "DATA")


@lru_cache(maxsize=1)
def _time_of_day() -> tuple[pa.Array, pa.Array]:
    """'HHMMSS' and 'HH:MM:SS' for every second of a day."""
    s = np.arange(86400)
    h, m, sec = s // 3600, s // 60 % 60, s % 60
    compact = [f"{a:02d}{b:02d}{c:02d}" for a, b, c in zip(h, m, sec, strict=True)]
    iso = [f"{a:02d}:{b:02d}:{c:02d}" for a, b, c in zip(h, m, sec, strict=True)]
    return pa.array(compact, pa.string()), pa.array(iso, pa.string())


def _dates(day0: int, n: int, fmt: str) -> pa.Array:
    return pa.array(
        [(dt.date(1970, 1, 1) + dt.timedelta(days=day0 + i)).strftime(fmt) for i in range(n)],
        pa.string(),
    )


def _clock(ts: np.ndarray, offset_s: int, kind: str) -> pa.Array:
    """ts (UTC seconds) shown at a fixed offset: 'YYYYMMDDHHMMSS' or 'YYYY-MM-DDTHH:MM:SS'."""
    t = ts + offset_s
    day = t // 86400
    d0 = int(day.min()) if len(day) else 0
    nd = int(day.max()) - d0 + 1 if len(day) else 1
    compact, iso = _time_of_day()
    if kind == "compact":
        dates, tod, sep = _dates(d0, nd, "%Y%m%d"), compact, ""
    else:
        dates, tod, sep = _dates(d0, nd, "%Y-%m-%d"), iso, "T"
    return pc.binary_join_element_wise(
        dates.take(pa.array(day - d0)), tod.take(pa.array(t % 86400)), sep
    )


@dataclass(frozen=True)
class CellStrings:
    """Per-cell text in each layout, gathered per row with take()."""

    a_area_cell: pa.Array
    vplmn: pa.Array  # empty at home
    b_eci: pa.Array
    c_ecgi: pa.Array
    cell_id: pa.Array


def cell_strings(index: CellIndex) -> CellStrings:
    plmn = index.plmn.astype(str)
    vplmn = np.where(index.roaming, plmn, "")
    mcc = np.char.ljust(plmn, 5).astype("U3")
    mnc = np.array([p[3:] for p in plmn])
    area = index.area.astype(str)
    cell = index.cell_no.astype(str)
    return CellStrings(
        a_area_cell=pa.array(np.char.add(np.char.add(area, "|"), cell), pa.string()),
        vplmn=pa.array(vplmn, pa.string()),
        b_eci=pa.array((index.area * 256 + index.cell_no).astype(str), pa.string()),
        c_ecgi=pa.array(
            [f"{a}-{b}-{c}-{d}" for a, b, c, d in zip(mcc, mnc, area, cell, strict=True)],
            pa.string(),
        ),
        cell_id=pa.array(index.cell_id.astype(str), pa.string()),
    )


def _columns(
    fmt: str, ev: Events, national: np.ndarray, cells: CellStrings, carrier_plmn: list[str]
) -> list[pa.Array]:
    nat = pa.array(national[ev.sub]).cast(pa.string())
    cell = pa.array(ev.cell)
    if fmt == "carrier-a":
        return [
            nat,
            _clock(ev.ts_s, LOCAL_OFFSET_S, "compact"),
            cells.a_area_cell.take(cell),
            pa.array((ev.event_type + 1).astype(str)),
            cells.vplmn.take(cell),
        ]
    if fmt == "carrier-b":
        ms = ev.ts_s * 1000 + (ev.style % 1000)
        names = np.array(CARRIER_B_EVENT, dtype=object)[ev.event_type]
        # Calls are split by direction in this export.
        names = np.where((ev.event_type == CALL) & ((ev.style >> 10) & 1 == 1), "MTC", names)
        return [
            pc.binary_join_element_wise("86", nat, ""),
            pa.array(ms).cast(pa.string()),
            cells.b_eci.take(cell),
            pa.array(names, pa.string()),
            cells.vplmn.take(cell),
        ]
    if fmt == "carrier-c":
        number = national[ev.sub]
        grouped = (
            number % 4 != 0
        )  # some users are written "+86 189 0000 0001", some "+8618900000001"
        s = pa.array(number).cast(pa.string())
        spaced = pc.binary_join_element_wise(
            "+86",
            pc.utf8_slice_codeunits(s, 0, 3),
            pc.utf8_slice_codeunits(s, 3, 7),
            pc.utf8_slice_codeunits(s, 7, 11),
            " ",
        )
        plain = pc.binary_join_element_wise("+86", s, "")
        utc = ((ev.style >> 11) & 3) == 0  # about a quarter of the times are written in UTC with Z
        local = pc.binary_join_element_wise(_clock(ev.ts_s, LOCAL_OFFSET_S, "iso"), "+08:00", "")
        zulu = pc.binary_join_element_wise(_clock(ev.ts_s, 0, "iso"), "Z", "")
        return [
            pc.if_else(pa.array(grouped), spaced, plain),
            pc.if_else(pa.array(utc), zulu, local),
            cells.c_ecgi.take(cell),
            pa.array(np.array(EVENT_TYPES, dtype=object)[ev.event_type], pa.string()),
        ]
    # canonical
    plus = (national[ev.sub] % 2) == 0
    utc = ((ev.style >> 11) & 3) == 0
    e164 = pc.binary_join_element_wise("86", nat, "")
    return [
        pc.if_else(pa.array(plus), pc.binary_join_element_wise("+", e164, ""), e164),
        pc.if_else(
            pa.array(utc),
            pc.binary_join_element_wise(_clock(ev.ts_s, 0, "iso"), "Z", ""),
            pc.binary_join_element_wise(_clock(ev.ts_s, LOCAL_OFFSET_S, "iso"), "+08:00", ""),
        ),
        cells.cell_id.take(cell),
        pa.array(np.array(EVENT_TYPES, dtype=object)[ev.event_type], pa.string()),
    ]


def _dirty_lines(
    fmt: str,
    kind: str,
    ev: Events,
    national: np.ndarray,
    cells: CellStrings,
    plmns: list[str],
    file_plmn: str,
) -> pa.Array:
    sep = SEPARATOR[fmt]
    if kind == "future_time":
        shifted = Events(
            ev.sub, ev.ts_s + FUTURE_SHIFT_S, ev.cell, ev.event_type, ev.carrier, ev.style
        )
        return pc.binary_join_element_wise(*_columns(fmt, shifted, national, cells, plmns), sep)
    cols = _columns(fmt, ev, national, cells, plmns)
    if kind == "bad_time":
        t = cols[1]
        # Hour 25 / month 13 / letters in epoch milliseconds: each layout's own kind of bad time.
        bad = {
            "carrier-a": lambda: pc.utf8_replace_slice(t, 8, 10, "25"),
            "carrier-b": lambda: pc.utf8_replace_slice(t, 0, 2, "x9"),
        }.get(fmt, lambda: pc.utf8_replace_slice(t, 5, 7, "13"))
        cols[1] = bad()
    elif kind == "bad_number":
        cols[0] = pc.utf8_replace_slice(cols[0], 4, 6, "OO")
    elif kind == "unknown_cell":
        n = len(ev)
        if fmt == "carrier-a":
            cols[2] = pa.array([f"{UNKNOWN_AREA}|{UNKNOWN_CELL}"] * n, pa.string())
            cols[4] = pa.array([""] * n, pa.string())
        elif fmt == "carrier-b":
            cols[2] = pa.array([str(UNKNOWN_AREA * 256 + UNKNOWN_CELL)] * n, pa.string())
            cols[4] = pa.array([""] * n, pa.string())
        elif fmt == "carrier-c":
            cols[2] = pa.array(
                [f"{file_plmn[:3]}-{file_plmn[3:]}-{UNKNOWN_AREA}-{UNKNOWN_CELL}"] * n, pa.string()
            )
        else:
            cols[2] = pa.array([f"{file_plmn}-{UNKNOWN_AREA}-{UNKNOWN_CELL}"] * n, pa.string())
    elif kind == "wrong_field_count":
        # A truncated row in the header-less layout; an extra trailing field in the others.
        extra = pa.array(["X"] * len(ev), pa.string())
        cols = cols[:-1] if fmt == "carrier-a" else [*cols, extra]
    return pc.binary_join_element_wise(*cols, sep)


def write_export(
    path: Path,
    fmt: str,
    ev: Events,
    national: np.ndarray,
    cells: CellStrings,
    plmns: list[str],
    file_plmn: str,
    rng: np.random.Generator | None,
) -> dict[str, int]:
    """Write one export file; returns rows written per kind ("clean" and each dirt kind)."""
    order = np.lexsort((ev.sub, ev.ts_s))
    ev = Events(
        *(getattr(ev, f)[order] for f in ("sub", "ts_s", "cell", "event_type", "carrier", "style"))
    )
    lines = pc.binary_join_element_wise(*_columns(fmt, ev, national, cells, plmns), SEPARATOR[fmt])
    counts = {"clean": len(ev)}
    parts = [lines]
    if rng is not None and len(ev):
        wanted = {kind: int(rng.binomial(len(ev), rate)) for kind, rate in DIRT_RATES.items()}
        # Distinct source rows, so no two dirty rows can coincide and the counts stay exact.
        total = min(sum(wanted.values()), len(ev))
        sources = rng.choice(len(ev), size=total, replace=False)
        used = 0
        for kind, k in wanted.items():
            src = sources[used : used + k]
            used += len(src)
            counts[kind] = len(src)
            if len(src) == 0:
                continue
            if kind == "duplicate":
                parts.append(lines.take(pa.array(src)))
                continue
            fields = ("sub", "ts_s", "cell", "event_type", "carrier", "style")
            sub_ev = Events(*(getattr(ev, f)[src] for f in fields))
            parts.append(_dirty_lines(fmt, kind, sub_ev, national, cells, plmns, file_plmn))
    all_lines = pa.concat_arrays([p.cast(pa.large_string()) for p in parts])
    n_clean = len(lines)
    n_dirt = len(all_lines) - n_clean
    if n_dirt and rng is not None:
        # Scatter the dirty rows among the clean ones, as they would arrive in a real export.
        at = np.sort(rng.integers(0, n_clean + 1, n_dirt))
        order = np.insert(np.arange(n_clean), at, np.arange(n_clean, n_clean + n_dirt))
        all_lines = all_lines.take(pa.array(order))
    nl = pa.scalar("\n", pa.large_string())
    all_lines = pc.binary_join_element_wise(all_lines, nl, pa.scalar("", pa.large_string()))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        if HEADER[fmt]:
            f.write((HEADER[fmt] + "\n").encode())
        for chunk in all_lines.chunks if isinstance(all_lines, pa.ChunkedArray) else [all_lines]:
            offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[
                chunk.offset : chunk.offset + len(chunk) + 1
            ]
            if len(chunk):
                f.write(memoryview(chunk.buffers()[2])[offsets[0] : offsets[-1]])
    return counts
