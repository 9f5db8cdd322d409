"""Border cells: a cell whose coverage overlaps another place's cells names that place."""

from __future__ import annotations

from unittest import mock

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import episignal.ingest.cells as cells_module
from episignal.ingest.cells import EARTH_RADIUS_M, border_alternates

KM_PER_DEG = np.pi * EARTH_RADIUS_M / 180 / 1000


def _cells(rows: list[tuple[float, float, float, str]]) -> tuple[np.ndarray, ...]:
    """rows of (east km, north km, radius km, place) around 30° N 114° E."""
    east, north, radius, place = zip(*rows, strict=True)
    lat = 30.0 + np.array(north) / KM_PER_DEG
    lon = 114.0 + np.array(east) / (KM_PER_DEG * np.cos(np.radians(30.0)))
    return lon, lat, np.array(radius) * 1000.0, np.array(place, dtype=object)


def test_overlapping_cells_of_two_places_name_each_other() -> None:
    # A's cell and B's cell 3 km apart with 2-km discs overlap; C's cell 10 km away does not.
    lon, lat, radius, place = _cells(
        [(0, 0, 2, "420100"), (3, 0, 2, "420900"), (13, 0, 2, "420700"), (1, 1, 2, "420100")]
    )
    assert list(border_alternates(lon, lat, radius, place)) == ["420900", "420100", "", "420900"]


def test_the_deepest_overlap_names_the_other_place() -> None:
    # B's cell touches A's cell barely and C's cell deeply: it is C's alternate.
    lon, lat, radius, place = _cells(
        [(0, 0, 2, "420900"), (3.9, 0, 2, "420100"), (-1, 0, 2, "420700")]
    )
    assert border_alternates(lon, lat, radius, place)[0] == "420700"


def test_cells_of_one_place_are_never_border_cells_of_each_other() -> None:
    lon, lat, radius, place = _cells([(0, 0, 5, "420100"), (1, 0, 5, "420100")])
    assert list(border_alternates(lon, lat, radius, place)) == ["", ""]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-30, 30),
            st.floats(-30, 30),
            st.floats(0.3, 12),
            st.sampled_from(["420100", "420900", "421000"]),
        ),
        min_size=2,
        max_size=20,
    )
)
def test_matches_every_pair_checked_by_hand(rows: list[tuple[float, float, float, str]]) -> None:
    lon, lat, radius, place = _cells(rows)
    got = border_alternates(lon, lat, radius, place)
    # A national registry is looked at a block of cells at a time: blocks change nothing.
    with mock.patch.object(cells_module, "_BORDER_BLOCK", 3):
        assert list(border_alternates(lon, lat, radius, place)) == list(got)
    lat_r, lon_r = np.radians(lat), np.radians(lon)
    xyz = np.column_stack(
        [np.cos(lat_r) * np.cos(lon_r), np.cos(lat_r) * np.sin(lon_r), np.sin(lat_r)]
    )
    for i in range(len(rows)):
        depth: dict[str, float] = {}
        for j in range(len(rows)):
            if place[j] != place[i]:
                overlap = radius[i] + radius[j] - np.linalg.norm(xyz[i] - xyz[j]) * EARTH_RADIUS_M
                depth[place[j]] = max(depth.get(place[j], -np.inf), overlap)
        deepest = max(depth.values(), default=-np.inf)
        if deepest < -1.0:  # clear of every other place's cells (metres)
            assert got[i] == ""
        elif deepest > 1.0:  # clearly overlapping: the deepest place (or one within a metre)
            assert got[i] in {p for p, v in depth.items() if v > deepest - 1.0}
