"""Cell registry: validate a cells file, place every cell, mark cells on a border between places.

A cell whose coverage disc overlaps the coverage of a cell that belongs to another prefecture-level
place (or country) is a *border cell*; ``alt_place`` names that other place (the one with the
deepest overlap). The engine uses it to tell ping-pong between two cities from a real visit.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from episignal.atomic_file import replacing
from episignal.ingest.events import CELL_ID_PATTERN
from episignal.lake import VersionedDataset

CELLS_PARTITION = (("registry", "cells"),)
CELL_COLUMNS = ("cell_id", "carrier", "lon", "lat", "radius_m", "county_code", "country")
BORDER_NEIGHBOURS = 24  # overlaps are looked for among this many nearest cells
_BORDER_BLOCK = 250_000  # cells whose neighbours are looked at together (memory ∝ block · 25)
EARTH_RADIUS_M = 6_371_000.0
_CELL_ID_FULL = f"^(?:{CELL_ID_PATTERN})$"
_DECIMAL_PATTERN = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_FLOAT_COUNTY_CODE_RE = re.compile(r"[0-9]{6}\.0*")
# Written next to the registry's versions after each merge: the cells file's digest and the
# report, for the registry version that merge left. Merging the same file into that version again
# changes nothing, so a repeated ``--cells`` (every ingest passes it) skips the validation.
LAST_MERGE = "last-merge.json"
MERGE_LOCK = "merge.lock"
# Bump when validation or placement rules change, so that a remembered merge is not trusted.
CELL_RULES_VERSION = 5


class CellsFileError(ValueError):
    """The cells file as a whole cannot be read (missing columns, unreadable)."""


@dataclass(frozen=True)
class CellsReport:
    rows: int
    accepted: int
    rejected: dict[str, int]
    border_cells: int
    total_in_registry: int


def read_cells_file(path: Path) -> tuple[pa.Table, int]:
    """The cells file's rows as text columns, and the number of rows with a wrong field count.

    A CSV that is not UTF-8 is read as GB 18030 (a superset of GBK, which Chinese exports use).
    """
    ragged = 0

    def skip_ragged(_row: pacsv.InvalidRow) -> str:
        nonlocal ragged
        ragged += 1
        return "skip"

    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
        else:
            table = pacsv.read_csv(
                pa.BufferReader(_utf8(path.read_bytes())),
                parse_options=pacsv.ParseOptions(invalid_row_handler=skip_ragged),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in CELL_COLUMNS}
                ),
            )
    except (pa.ArrowException, OSError) as e:
        reason = str(e).splitlines()[0]
        raise CellsFileError(f"{path.name}: cannot be read: {reason}") from None
    missing = [c for c in CELL_COLUMNS if c not in table.column_names]
    if missing:
        raise CellsFileError(f"{path.name}: missing column(s) {', '.join(missing)}")
    try:
        table = table.select(list(CELL_COLUMNS)).cast(
            pa.schema([(c, pa.string()) for c in CELL_COLUMNS]), safe=False
        )
    except pa.ArrowException as e:
        raise CellsFileError(f"{path.name}: a column cannot be read as text: {e}") from None
    return table, ragged


def _utf8(data: bytes) -> bytes:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030", errors="replace").encode("utf-8")
    return data


def _county_code(text: str) -> str:
    # A code column with gaps (cells abroad) becomes floats in a data frame: "420102.0".
    return text[:6] if _FLOAT_COUNTY_CODE_RE.fullmatch(text) else text


def _text(column: pa.ChunkedArray) -> pa.Array:
    """A text column with surrounding whitespace removed and no NULLs ("")."""
    return pc.utf8_trim_whitespace(pc.fill_null(column.combine_chunks(), ""))


def _numbers(text: pa.Array) -> np.ndarray:
    """Decimal numbers ("114.3", "-0.5", "1e3") as floats; anything else NaN ("inf" too)."""
    number = pc.match_substring_regex(text, _DECIMAL_PATTERN)
    parsed = pc.cast(pc.if_else(number, text, pa.scalar(None, pa.string())), pa.float64())
    return pc.fill_null(parsed, float("nan")).to_numpy(zero_copy_only=False)


def _validate(table: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Typed, placed cells and the count of rejected rows per reason (the first check a row
    fails names it). Column-wise: a national registry has millions of rows."""
    # Imported here: the gazetteer is only needed when a cells file is actually validated.
    from episignal.geo import divisions
    from episignal.geo.places import HOME_COUNTRY

    table_divs = divisions()
    cell_id, carrier = _text(table["cell_id"]), _text(table["carrier"])
    country = pc.utf8_upper(_text(table["country"]))
    lon, lat, radius = (_numbers(_text(table[c])) for c in ("lon", "lat", "radius_m"))
    # Each distinct code is looked up once: (county, its prefecture-level place or "").
    codes = pc.dictionary_encode(_text(table["county_code"]))
    looked_up = []
    for text in codes.dictionary.to_pylist():
        county = table_divs.resolve_grouping(_county_code(text))
        known = county in table_divs
        looked_up.append((county, known, table_divs.get(county).prefecture_code if known else ""))
    which = codes.indices.to_numpy(zero_copy_only=False)
    county = np.array([c for c, _, _ in looked_up] or [""], dtype=object)[which]
    known = np.array([k for _, k, _ in looked_up] or [False])[which]
    prefecture = np.array([p for _, _, p in looked_up] or [""], dtype=object)[which]
    at_home = pc.equal(country, HOME_COUNTRY).to_numpy(zero_copy_only=False)
    with np.errstate(invalid="ignore"):  # NaN compares False: not a coordinate, not a radius
        checks = {
            "bad_cell_id": ~pc.match_substring_regex(cell_id, _CELL_ID_FULL).to_numpy(
                zero_copy_only=False
            ),
            "bad_coordinates": ~((np.abs(lon) <= 180) & (np.abs(lat) <= 90)),
            "bad_radius": ~((radius > 0) & np.isfinite(radius)),
            "bad_country": ~pc.and_(
                pc.equal(pc.utf8_length(country), 2), pc.utf8_is_alpha(country)
            ).to_numpy(zero_copy_only=False),
            "unknown_county": at_home & ~known,
            # A province (not a municipality) is no place of a card.
            "province_code": at_home & (prefecture == ""),
        }
    ok = np.ones(table.num_rows, dtype=bool)
    reasons: dict[str, int] = {}
    for reason, bad in checks.items():
        hit = int((ok & bad).sum())
        if hit:
            reasons[reason] = hit
        ok &= ~bad
    keep = pa.array(ok)
    home = at_home[ok]
    country_ok = country.filter(keep).to_numpy(zero_copy_only=False)
    good = pa.table(
        {
            "cell_id": cell_id.filter(keep),
            "carrier": carrier.filter(keep),
            "lon": lon[ok],
            "lat": lat[ok],
            "radius_m": radius[ok],
            "county_code": pa.array(np.where(home, county[ok], ""), pa.string()),
            "country": country.filter(keep),
            "place_code": pa.array(np.where(home, prefecture[ok], country_ok), pa.string()),
            "county_place": pa.array(np.where(home, county[ok], country_ok), pa.string()),
        },
        schema=_SCHEMA_NO_ALT,
    )
    return good, reasons


_SCHEMA_NO_ALT = pa.schema(
    [
        ("cell_id", pa.string()),
        ("carrier", pa.string()),
        ("lon", pa.float64()),
        ("lat", pa.float64()),
        ("radius_m", pa.float64()),
        ("county_code", pa.string()),
        ("country", pa.string()),
        ("place_code", pa.string()),
        ("county_place", pa.string()),
    ]
)


def _codes(values: np.ndarray) -> np.ndarray:
    """An integer per distinct string of ``values`` (equal strings, equal integers): sorting and
    comparing integers instead of Python strings is what keeps millions of cells quick."""
    return pc.dictionary_encode(pa.array(values, pa.string())).indices.to_numpy()


def border_alternates(
    lon: np.ndarray, lat: np.ndarray, radius_m: np.ndarray, place: np.ndarray
) -> np.ndarray:
    """For each cell, the other place whose cells' coverage overlaps it most, or "" if none."""
    from scipy.spatial import cKDTree  # imported here: only a changed cells file needs it

    n = len(lon)
    out = np.full(n, "", dtype=object)
    if n < 2:
        return out
    lat_r, lon_r = np.radians(lat), np.radians(lon)
    xyz = (
        np.column_stack(
            [np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)]
        )
        * EARTH_RADIUS_M
    )  # chord distance ≈ ground distance at cell scales
    k = min(BORDER_NEIGHBOURS + 1, n)
    tree = cKDTree(xyz)
    # Places as integers: comparing 25 neighbours' places per cell as strings is most of the time
    # for a national registry (millions of cells).
    place_key = _codes(place)
    # A block of cells at a time, so the neighbour arrays (k per cell) stay small however large
    # the registry; each cell's answer depends on its own neighbours only.
    for start in range(0, n, _BORDER_BLOCK):
        stop = min(start + _BORDER_BLOCK, n)
        dist, idx = tree.query(xyz[start:stop], k=k, workers=-1)
        overlap = radius_m[start:stop, None] + radius_m[idx] - dist  # > 0: coverage discs meet
        other = place_key[idx] != place_key[start:stop, None]
        depth = np.where(other & (overlap > 0), overlap, -np.inf)
        rows = np.arange(stop - start)
        best = depth.argmax(axis=1)
        has = np.isfinite(depth[rows, best])
        out[start:stop][has] = place[idx[rows, best]][has]
    return out


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _remembered(registry: VersionedDataset, digest: str) -> CellsReport | None:
    """The report of merging this very file into the current registry version, if that was done."""
    try:
        last = json.loads((registry.root / LAST_MERGE).read_text())
    except (OSError, ValueError):
        return None
    current = registry.current_version()
    if (
        current is None
        or last.get("version") != current
        or last.get("sha256") != digest
        or last.get("rules") != CELL_RULES_VERSION
    ):
        return None
    return CellsReport(**last["report"])


def _remember(registry: VersionedDataset, digest: str, report: CellsReport) -> None:
    record = {
        "version": registry.current_version(),
        "sha256": digest,
        "rules": CELL_RULES_VERSION,
        "report": asdict(report),
    }
    with replacing(registry.root / LAST_MERGE) as tmp:  # readers see the old record or the new
        tmp.write_text(json.dumps(record))


def ingest_cells(path: Path, registry: VersionedDataset) -> CellsReport:
    """Merge a cells file into the registry (same cell_id: the new row wins); atomic.

    Merging is idempotent, so when this file (same bytes) was the last one merged and the registry
    has not changed since, the remembered report is returned without reading it again.
    """
    digest = _digest(path)
    registry.root.mkdir(parents=True, exist_ok=True)
    # One merge at a time from check to record, so the record names the version this merge left.
    with open(registry.root / MERGE_LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        remembered = _remembered(registry, digest)
        if remembered is not None:
            return remembered
        report = _merge_cells(path, registry)
        _remember(registry, digest, report)
        return report


def _merge_cells(path: Path, registry: VersionedDataset) -> CellsReport:
    raw, ragged = read_cells_file(path)
    new, reasons = _validate(raw)
    if ragged:
        reasons["field_count"] = ragged
    old_files = registry.files()
    if old_files:
        old = pq.read_table(old_files).select(_SCHEMA_NO_ALT.names)
        keep = pc.invert(pc.is_in(old["cell_id"], value_set=new["cell_id"]))
        merged = pa.concat_tables([old.filter(keep), new])
    else:
        merged = new
    # The same id twice in one file: the last row wins, like a later file would.
    ids = _codes(merged["cell_id"].to_numpy(zero_copy_only=False))
    _, last = np.unique(ids[::-1], return_index=True)
    merged = merged.take(np.sort(len(ids) - 1 - last))
    alt = border_alternates(
        merged["lon"].to_numpy(),
        merged["lat"].to_numpy(),
        merged["radius_m"].to_numpy(),
        merged["place_code"].to_numpy(zero_copy_only=False),
    )
    merged = merged.append_column("alt_place", pa.array(alt, pa.string()))
    # An unchanged registry keeps its version, so processed days stay valid (no recompute).
    if not (old_files and pq.read_table(old_files).select(merged.column_names).equals(merged)):
        with registry.change() as staging:
            pq.write_table(merged, staging.partition_dir(CELLS_PARTITION) / "cells.parquet")
    return CellsReport(
        rows=raw.num_rows + ragged,
        accepted=new.num_rows,
        rejected=reasons,
        border_cells=int((alt != "").sum()),
        total_in_registry=merged.num_rows,
    )
