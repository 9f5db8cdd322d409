"""The simulated world: county territories, prefecture places, every carrier's cells, roaming.

Territory model: there are no division polygons, so a position belongs to the county whose
centroid is nearest (the Voronoi cell of county centroids), hence to that county's prefecture.
Taiwan, Hong Kong and Macau are left out of the simulated home network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyarrow as pa
from scipy.spatial import cKDTree

from episignal.geo import divisions
from episignal.simulate.carriers import (
    CARRIERS,
    FOREIGN_CELLS_PER_NETWORK,
    FOREIGN_NETWORKS,
)
from episignal.simulate.geometry import distance_km, offset, to_lonlat, to_xyz

EXCLUDED_PROVINCES = frozenset({"71", "81", "82"})  # 台湾 香港 澳门: not on the home networks
# Prefectures with metropolitan populations beyond their provincial-capital status.
BIG_CITIES = frozenset(
    {"440300", "440100", "320500", "330200", "370200", "210200", "350200", "441900", "440600"}
)
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})
BIG_CITY_FACTOR = 3.0
URBAN_DISTRICT_WEIGHT = 3.0
COUNTY_CITY_WEIGHT = 1.5
RURAL_COUNTY_WEIGHT = 1.0
BORDER_BAND_KM = 3.0  # a home this close to a prefecture boundary makes a border resident
GRAVITY_MIN_DISTANCE_KM = 30.0  # keeps neighbouring cities from dominating the gravity model
CELL_SCATTER = 0.45  # spread of a county's sites around its centre, × distance to the next county
TERRITORY_DRAWS = 8


@dataclass
class CarrierCells:
    """One carrier's cells at home (a KD-tree for serving-cell lookups) and abroad."""

    xyz: np.ndarray
    radius_km: np.ndarray
    area: np.ndarray  # tracking area code: location updates fire when it changes
    cell_id: np.ndarray  # canonical "PLMN-AREA-CELL" (object array)
    tree: cKDTree
    foreign_xyz: np.ndarray
    foreign_radius_km: np.ndarray
    foreign_area: np.ndarray
    foreign_cell_id: np.ndarray
    foreign_network: np.ndarray  # index into FOREIGN_NETWORKS
    foreign_tree: cKDTree


@dataclass(eq=False)  # identity hashing: caches key on the world object
class World:
    county_code: np.ndarray  # object array of 6-digit codes
    county_name: np.ndarray
    county_xyz: np.ndarray
    county_prefecture: np.ndarray  # index into prefecture_code
    county_weight: np.ndarray  # population proxy
    county_spacing_km: np.ndarray  # distance to the nearest other county centroid
    county_urban: np.ndarray
    prefecture_code: np.ndarray
    prefecture_province: np.ndarray  # 2-digit province prefix
    prefecture_weight: np.ndarray
    prefecture_xyz: np.ndarray
    carriers: list[CarrierCells]
    border_xyz: np.ndarray  # candidate homes within BORDER_BAND_KM of a prefecture boundary
    border_county: np.ndarray
    county_tree: cKDTree = field(repr=False)

    @cached_property
    def prefecture_index(self) -> dict[str, int]:
        return {code: i for i, code in enumerate(self.prefecture_code)}

    @cached_property
    def gravity(self) -> np.ndarray:
        """Row-normalised probability of a trip from prefecture i going to prefecture j."""
        d = distance_km(self.prefecture_xyz[:, None, :], self.prefecture_xyz[None, :, :])
        d = np.maximum(d, GRAVITY_MIN_DISTANCE_KM)
        g = self.prefecture_weight[None, :] / d**2
        np.fill_diagonal(g, 0.0)
        return g / g.sum(axis=1, keepdims=True)

    @cached_property
    def prefecture_counties(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, starts): county indices grouped by prefecture, for weighted picks inside one."""
        order = np.argsort(self.county_prefecture, kind="stable")
        starts = np.searchsorted(
            self.county_prefecture[order], np.arange(len(self.prefecture_code) + 1)
        )
        return order, starts

    def county_of(self, xyz: np.ndarray) -> np.ndarray:
        """County index of positions (nearest centroid)."""
        if len(xyz) == 0:
            return np.zeros(0, dtype=np.int64)
        _, idx = self.county_tree.query(xyz, workers=-1)
        return idx.astype(np.int64)

    def border_distance_km(self, xyz: np.ndarray) -> np.ndarray:
        """Distance from positions to the nearest boundary with another prefecture (bisectors)."""
        if len(xyz) == 0:
            return np.zeros(0)
        d, idx = self.county_tree.query(xyz, k=8, workers=-1)
        own = self.county_prefecture[idx[:, 0]]
        other = self.county_prefecture[idx] != own[:, None]
        c0 = self.county_xyz[idx[:, 0]]
        cj = self.county_xyz[idx]
        sep = np.maximum(np.linalg.norm(cj - c0[:, None, :], axis=2), 1e-9)
        bisector = (d**2 - d[:, :1] ** 2) / (2 * sep)
        bisector = np.where(other, bisector, np.inf)
        return bisector.min(axis=1)

    def cells_table(self) -> pa.Table:
        """The cells file, columns of docs/data-contracts.md."""
        parts = []
        for spec, cells in zip(CARRIERS, self.carriers, strict=True):
            lon, lat = to_lonlat(cells.xyz)
            county = self.county_of(cells.xyz)
            parts.append(
                pa.table(
                    {
                        "cell_id": pa.array(cells.cell_id, pa.string()),
                        "carrier": pa.array([spec.plmn] * len(lon), pa.string()),
                        "lon": np.round(lon, 6),
                        "lat": np.round(lat, 6),
                        "radius_m": np.round(cells.radius_km * 1000.0, 0),
                        "county_code": pa.array(self.county_code[county], pa.string()),
                        "country": pa.array(["CN"] * len(lon), pa.string()),
                    }
                )
            )
            flon, flat = to_lonlat(cells.foreign_xyz)
            parts.append(
                pa.table(
                    {
                        "cell_id": pa.array(cells.foreign_cell_id, pa.string()),
                        "carrier": pa.array([spec.plmn] * len(flon), pa.string()),
                        "lon": np.round(flon, 6),
                        "lat": np.round(flat, 6),
                        "radius_m": np.round(cells.foreign_radius_km * 1000.0, 0),
                        "county_code": pa.array([""] * len(flon), pa.string()),
                        "country": pa.array(
                            [FOREIGN_NETWORKS[i].country for i in cells.foreign_network],
                            pa.string(),
                        ),
                    }
                )
            )
        return pa.concat_tables(parts)


def _county_weights(codes: list[str], names: list[str], prefectures: list[str]) -> np.ndarray:
    w = np.empty(len(codes))
    for i, (name, pref) in enumerate(zip(names, prefectures, strict=True)):
        if name.endswith("区"):
            base = URBAN_DISTRICT_WEIGHT
        elif name.endswith("市"):
            base = COUNTY_CITY_WEIGHT
        else:
            base = RURAL_COUNTY_WEIGHT
        # Provincial capitals carry the code xx0100 in GB/T 2260.
        if pref in MUNICIPALITIES or pref in BIG_CITIES or pref[2:] == "0100":
            base *= BIG_CITY_FACTOR
        w[i] = base
    return w


def _in_own_territory(
    county: np.ndarray,
    centre: np.ndarray,
    sigma: np.ndarray,
    tree: cKDTree,
    rng: np.random.Generator,
) -> np.ndarray:
    """Positions scattered around each county's centre but inside its own territory.

    A carrier plans a county's sites to cover that county: a site that would fall in a neighbour's
    territory is drawn again (a few rounds, then placed halfway back towards the centre, which is
    always inside: territories are convex).
    """
    xyz = np.empty((len(county), 3))
    todo = np.arange(len(county))
    for _ in range(TERRITORY_DRAWS):
        if len(todo) == 0:
            break
        east = rng.normal(0.0, 1.0, len(todo)) * sigma[todo]
        north = rng.normal(0.0, 1.0, len(todo)) * sigma[todo]
        xyz[todo] = offset(centre[todo], east, north)
        _, owner = tree.query(xyz[todo], workers=-1)
        todo = todo[owner != county[todo]]
    while len(todo):
        xyz[todo] = (xyz[todo] + centre[todo]) / 2.0
        _, owner = tree.query(xyz[todo], workers=-1)
        todo = todo[owner != county[todo]]
    return xyz


def _carrier_cells(
    carrier_index: int,
    county_xyz: np.ndarray,
    spacing: np.ndarray,
    urban: np.ndarray,
    tree: cKDTree,
    rng: np.random.Generator,
) -> CarrierCells:
    spec = CARRIERS[carrier_index]
    n_per = np.where(urban, spec.cells_per_urban_county, spec.cells_per_rural_county)
    county = np.repeat(np.arange(len(county_xyz)), n_per)
    # Cells spread over the county's territory; the first one of each county at its centre.
    sigma = np.clip(CELL_SCATTER * spacing, 1.0, 25.0)[county]
    first = np.concatenate(([0], np.cumsum(n_per)[:-1]))
    cell_no = np.arange(len(county)) - np.repeat(first, n_per) + 1
    xyz = _in_own_territory(county, county_xyz[county], sigma, tree, rng)
    xyz[cell_no == 1] = county_xyz[county[cell_no == 1]]
    radius = np.clip(1.3 * sigma * np.sqrt(np.pi / n_per[county]), 0.3, 20.0)
    area = county + 1  # one tracking area per county and carrier (area × 256 + cell fits 28 bits)
    cell_id = np.array(
        [f"{spec.plmn}-{a}-{c}" for a, c in zip(area.tolist(), cell_no.tolist(), strict=True)],
        dtype=object,
    )
    f_net = np.repeat(np.arange(len(FOREIGN_NETWORKS)), FOREIGN_CELLS_PER_NETWORK)
    f_no = np.tile(np.arange(1, FOREIGN_CELLS_PER_NETWORK + 1), len(FOREIGN_NETWORKS))
    centres = to_xyz(
        np.array([n.lon for n in FOREIGN_NETWORKS]), np.array([n.lat for n in FOREIGN_NETWORKS])
    )[f_net]
    f_xyz = offset(centres, rng.normal(0, 8.0, len(f_net)), rng.normal(0, 8.0, len(f_net)))
    # Each home carrier's roaming partners report it a distinct tracking area, so the foreign cell
    # ids of the three carriers never collide (the contract wants one row per cell id).
    f_area = np.full(len(f_net), 100 * (carrier_index + 1) + 1)
    f_id = np.array(
        [
            f"{FOREIGN_NETWORKS[n].plmn}-{a}-{c}"
            for n, a, c in zip(f_net.tolist(), f_area.tolist(), f_no.tolist(), strict=True)
        ],
        dtype=object,
    )
    return CarrierCells(
        xyz=xyz,
        radius_km=radius,
        area=area,
        cell_id=cell_id,
        tree=cKDTree(xyz),
        foreign_xyz=f_xyz,
        foreign_radius_km=np.full(len(f_net), 3.0),
        foreign_area=f_area,
        foreign_cell_id=f_id,
        foreign_network=f_net,
        foreign_tree=cKDTree(f_xyz),
    )


COVERAGE_SAMPLES_PER_COUNTY = 200
COVERAGE_QUANTILE = 0.9  # a cell's published radius reaches 90 % of the phones it serves


def _measure_coverage(
    carriers: list[CarrierCells],
    county_xyz: np.ndarray,
    spacing: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Publish each cell's radius as the reach it really has, as carriers estimate it from timing
    advance: phones are served by their nearest cell even far beyond its nominal radius (a rural
    tower across a city boundary), and a cells file whose radii hid that would be unrealistic."""
    county = np.repeat(np.arange(len(county_xyz)), COVERAGE_SAMPLES_PER_COUNTY)
    sigma = np.clip(0.45 * spacing, 1.0, 25.0)[county]
    pts = offset(
        county_xyz[county],
        rng.normal(0.0, 1.0, len(county)) * sigma,
        rng.normal(0.0, 1.0, len(county)) * sigma,
    )
    for cells in carriers:
        d, i = cells.tree.query(pts, workers=-1)
        order = np.lexsort((d, i))
        i, d = i[order], d[order]
        starts = np.searchsorted(i, np.arange(len(cells.radius_km) + 1))
        counts = np.diff(starts)
        served = np.flatnonzero(counts > 0)
        q = starts[served] + np.floor(COVERAGE_QUANTILE * (counts[served] - 1)).astype(np.int64)
        cells.radius_km[served] = np.maximum(cells.radius_km[served], d[q])


def _border_pool(
    county_xyz: np.ndarray, county_prefecture: np.ndarray, tree: cKDTree, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Points 0.3–BORDER_BAND_KM inside a county, towards a neighbour of another prefecture."""
    _, nbr = tree.query(county_xyz, k=7)
    i = np.repeat(np.arange(len(county_xyz)), 6)
    j = nbr[:, 1:].ravel()
    keep = county_prefecture[i] != county_prefecture[j]
    i, j = i[keep], j[keep]
    ci, cj = county_xyz[i], county_xyz[j]
    sep = np.linalg.norm(cj - ci, axis=1)
    inward = rng.uniform(0.3, BORDER_BAND_KM, len(i))
    t = np.clip(0.5 - inward / np.maximum(sep, 1e-9), 0.0, 0.5)
    pts = ci + (cj - ci) * t[:, None]
    # Slide along the boundary a little so residents of one pair do not all share one spot.
    pts = offset(pts, rng.normal(0, 1.0, len(i)), rng.normal(0, 1.0, len(i)))
    _, owner = tree.query(pts)
    ok = owner == i
    return pts[ok], i[ok]


def build_world(seed: int) -> World:
    """The deterministic world for a seed: counties, prefectures, cells, border-home pool."""
    rng = np.random.default_rng([seed, 0x57_0D_1D])
    table = divisions()
    rows = sorted(
        (c for c in table.counties() if c.code[:2] not in EXCLUDED_PROVINCES), key=lambda c: c.code
    )
    codes = [c.code for c in rows]
    names = [c.name for c in rows]
    prefs = [c.prefecture_code for c in rows]
    xyz = to_xyz(np.array([c.lon for c in rows]), np.array([c.lat for c in rows]))
    # A handful of counties share a centroid in the source table; nudge them apart by metres so the
    # Voronoi territory of each is non-empty and ties are impossible.
    xyz = offset(xyz, rng.normal(0, 0.05, len(xyz)), rng.normal(0, 0.05, len(xyz)))
    tree = cKDTree(xyz)
    d2, _ = tree.query(xyz, k=2)
    spacing = np.maximum(d2[:, 1], 0.5)
    urban = np.array(
        [
            n.endswith("区") or p in MUNICIPALITIES or p in BIG_CITIES
            for n, p in zip(names, prefs, strict=True)
        ]
    )
    weight = _county_weights(codes, names, prefs)
    pref_codes = np.array(sorted(set(prefs)), dtype=object)
    pref_index = {p: i for i, p in enumerate(pref_codes)}
    county_pref = np.array([pref_index[p] for p in prefs], dtype=np.int64)
    pref_weight = np.bincount(county_pref, weights=weight, minlength=len(pref_codes))
    pref_xyz = (
        np.stack(
            [
                np.bincount(county_pref, weights=weight * xyz[:, k], minlength=len(pref_codes))
                for k in range(3)
            ],
            axis=1,
        )
        / pref_weight[:, None]
    )
    carriers = [_carrier_cells(k, xyz, spacing, urban, tree, rng) for k in range(len(CARRIERS))]
    _measure_coverage(carriers, xyz, spacing, np.random.default_rng([seed, 0xC0_7E_A6]))
    border_xyz, border_county = _border_pool(xyz, county_pref, tree, rng)
    return World(
        county_code=np.array(codes, dtype=object),
        county_name=np.array(names, dtype=object),
        county_xyz=xyz,
        county_prefecture=county_pref,
        county_weight=weight,
        county_spacing_km=spacing,
        county_urban=urban,
        prefecture_code=pref_codes,
        prefecture_province=np.array([p[:2] for p in pref_codes], dtype=object),
        prefecture_weight=pref_weight,
        prefecture_xyz=pref_xyz,
        carriers=carriers,
        border_xyz=border_xyz,
        border_county=border_county,
        county_tree=tree,
    )
