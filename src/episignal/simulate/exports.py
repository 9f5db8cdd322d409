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


def _fixed_width(chars: np.ndarray) -> pa.Array:
    """An Arrow string array from an (n, width) array of ASCII bytes, without a Python loop."""
    n, width = chars.shape
    offsets = np.arange(n + 1, dtype=np.int32) * width
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an (n, width) ASCII array."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers % 10 + ord("0")).astype(np.uint8)


def _with(chars: np.ndarray, text: str) -> np.ndarray:
    """Append the same text to every row of an (n, width) ASCII array."""
    tail = np.frombuffer(text.encode(), dtype=np.uint8)
    return np.hstack([chars, np.broadcast_to(tail, (len(chars), len(tail)))])


@lru_cache(maxsize=1)
def _time_of_day() -> tuple[pa.Array, pa.Array]:
    """Per second of a day: 'HHMMSS'; and 'HH:MM:SS+08:00' (local) then 'HH:MM:SSZ' (UTC)."""
    s = np.arange(86400)
    h, m, sec = _digits(s // 3600, 2), _digits(s // 60 % 60, 2), _digits(s % 60, 2)
    colon = np.full((len(s), 1), ord(":"), dtype=np.uint8)
    iso = np.hstack([h, colon, m, colon, sec])
    compact = _fixed_width(np.hstack([h, m, sec]))
    local, utc = _fixed_width(_with(iso, "+08:00")), _fixed_width(_with(iso, "Z"))
    return compact, pa.concat_arrays([local, utc])


def _dates(day0: int, n: int, fmt: str) -> pa.Array:
    return pa.array(
        [(dt.date(1970, 1, 1) + dt.timedelta(days=day0 + i)).strftime(fmt) for i in range(n)],
        pa.string(),
    )


def _day_and_second(t: np.ndarray) -> tuple[np.ndarray, np.ndarray, int, int]:
    day = t // 86400
    d0 = int(day.min()) if len(day) else 0
    nd = int(day.max()) - d0 + 1 if len(day) else 1
    return day - d0, t % 86400, d0, nd


def _clock_compact(ts: np.ndarray) -> pa.Array:
    """ts (UTC seconds) as local 'YYYYMMDDHHMMSS'."""
    day, second, d0, nd = _day_and_second(ts + LOCAL_OFFSET_S)
    compact, _ = _time_of_day()
    return pc.binary_join_element_wise(
        _dates(d0, nd, "%Y%m%d").take(pa.array(day)), compact.take(pa.array(second)), ""
    )


def _clock_iso(ts: np.ndarray, utc: np.ndarray) -> pa.Array:
    """ts (UTC seconds) as ISO 8601: 'YYYY-MM-DDTHH:MM:SSZ' where utc, else local with +08:00."""
    day, second, d0, nd = _day_and_second(ts + np.where(utc, 0, LOCAL_OFFSET_S))
    _, iso = _time_of_day()
    return pc.binary_join_element_wise(
        _dates(d0, nd, "%Y-%m-%dT").take(pa.array(day)),
        iso.take(pa.array(second + utc * 86400)),
        "",
    )


@dataclass(frozen=True)
class CellStrings:
    """Per-cell text in each layout, gathered per row with take()."""

    a_area_cell: pa.Array
    vplmn: pa.Array  # empty at home
    vplmn_eol: pa.Array  # the same, ending the line
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
        vplmn_eol=pa.array(np.char.add(vplmn, "\n"), pa.string()),
        b_eci=pa.array((index.area * 256 + index.cell_no).astype(str), pa.string()),
        c_ecgi=pa.array(
            [f"{a}-{b}-{c}-{d}" for a, b, c, d in zip(mcc, mnc, area, cell, strict=True)],
            pa.string(),
        ),
        cell_id=pa.array(index.cell_id.astype(str), pa.string()),
    )


A_EVENT_CODES = pa.array([str(k + 1) for k in range(len(EVENT_TYPES))], pa.string())
# Calls are split by direction in carrier-b's export: index + len(EVENT_TYPES) is the other half.
B_EVENT_NAMES = pa.array(
    list(CARRIER_B_EVENT) + [("MTC" if k == CALL else n) for k, n in enumerate(CARRIER_B_EVENT)],
    pa.string(),
)
EVENT_NAMES = pa.array(list(EVENT_TYPES), pa.string())
EVENT_NAMES_EOL = pa.array([f"{n}\n" for n in EVENT_TYPES], pa.string())


def _number_strings(fmt: str, national: np.ndarray) -> pa.Array:
    """Each subscriber's number as the layout writes it (per subscriber, gathered per row)."""
    s = pa.array(national).cast(pa.string())
    if fmt == "carrier-a":
        return s
    if fmt == "carrier-b":
        return pc.binary_join_element_wise("86", s, "")
    if fmt == "carrier-c":
        # Some users are written "+86 189 0000 0001", some "+8618900000001".
        spaced = pc.binary_join_element_wise(
            "+86",
            pc.utf8_slice_codeunits(s, 0, 3),
            pc.utf8_slice_codeunits(s, 3, 7),
            pc.utf8_slice_codeunits(s, 7, 11),
            " ",
        )
        plain = pc.binary_join_element_wise("+86", s, "")
        return pc.if_else(pa.array(national % 4 != 0), spaced, plain)
    e164 = pc.binary_join_element_wise("86", s, "")
    plus = pc.binary_join_element_wise("+", e164, "")
    return pc.if_else(pa.array(national % 2 == 0), plus, e164)


def _columns(
    fmt: str,
    ev: Events,
    national: np.ndarray,
    cells: CellStrings,
    carrier_plmn: list[str],
    eol: bool = False,
) -> list[pa.Array]:
    """The fields of each row; with eol the last field carries the line's newline."""
    number = _number_strings(fmt, national).take(pa.array(ev.sub))
    cell = pa.array(ev.cell)
    etype = pa.array(ev.event_type)
    if fmt == "carrier-a":
        return [
            number,
            _clock_compact(ev.ts_s),
            cells.a_area_cell.take(cell),
            A_EVENT_CODES.take(etype),
            (cells.vplmn_eol if eol else cells.vplmn).take(cell),
        ]
    if fmt == "carrier-b":
        ms = ev.ts_s * 1000 + (ev.style % 1000)
        incoming = (ev.event_type == CALL) & ((ev.style >> 10) & 1 == 1)
        name = ev.event_type.astype(np.int64) + incoming * len(EVENT_TYPES)
        return [
            number,
            pa.array(ms).cast(pa.string()),
            cells.b_eci.take(cell),
            B_EVENT_NAMES.take(pa.array(name)),
            (cells.vplmn_eol if eol else cells.vplmn).take(cell),
        ]
    # About a quarter of the times are written in UTC with Z.
    utc = ((ev.style >> 11) & 3) == 0
    names = (EVENT_NAMES_EOL if eol else EVENT_NAMES).take(etype)
    if fmt == "carrier-c":
        return [number, _clock_iso(ev.ts_s, utc), cells.c_ecgi.take(cell), names]
    # canonical
    return [number, _clock_iso(ev.ts_s, utc), cells.cell_id.take(cell), names]


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
    # Clean lines carry their newline from the last field, so they are written straight from the
    # joined buffer; the few dirty lines are written in between.
    lines = pc.binary_join_element_wise(
        *_columns(fmt, ev, national, cells, plmns, eol=True), SEPARATOR[fmt]
    )
    counts = {"clean": len(ev)}
    dirty: list[pa.Array] = []
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
                dirty.append(lines.take(pa.array(src)))
                continue
            fields = ("sub", "ts_s", "cell", "event_type", "carrier", "style")
            sub_ev = Events(*(getattr(ev, f)[src] for f in fields))
            bad = _dirty_lines(fmt, kind, sub_ev, national, cells, plmns, file_plmn)
            dirty.append(pc.binary_join_element_wise(bad, "\n", ""))
    dirty_lines = [line.encode() for part in dirty for line in part.to_pylist()]
    # Scatter the dirty rows among the clean ones, as they would arrive in a real export: dirty
    # row j goes just before clean row at[j].
    at = np.sort(rng.integers(0, len(ev) + 1, len(dirty_lines))) if dirty_lines else []
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        if HEADER[fmt]:
            f.write((HEADER[fmt] + "\n").encode())
        if len(lines) == 0:
            f.writelines(dirty_lines)
            return counts
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
            lines.offset : lines.offset + len(lines) + 1
        ]
        text = memoryview(lines.buffers()[2])
        done = offsets[0]
        for row, line in zip(at, dirty_lines, strict=True):
            f.write(text[done : offsets[row]])
            f.write(line)
            done = offsets[row]
        f.write(text[done : offsets[-1]])
    return counts
