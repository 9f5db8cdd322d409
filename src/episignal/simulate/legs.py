"""Counties along straight legs, from a few nearest-centroid queries instead of one per point.

A county's territory is its Voronoi cell among county centroids (3-D points), and Voronoi cells are
convex: if two points of a straight segment lie in the same county, so does everything between them.
Bisecting each leg's run of sample points therefore needs queries only near the county boundaries
it crosses, and returns exactly what querying every point would (`World.county_of`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from episignal.simulate.world import World

# A point whose nearest centroid beats the second nearest by more than this (in squared km) is
# beyond any floating-point doubt; closer calls are settled by the plain nearest-centroid query.
# The margin to each rival centroid is linear along a segment, so it holds between two such points.
SURE_MARGIN_KM2 = 1e-3


def counties_along_legs(
    world: World,
    points: Callable[[np.ndarray], np.ndarray],
    first: np.ndarray,
    last: np.ndarray,
) -> np.ndarray:
    """County index of every sample point; points[first[l]..last[l]] lie in order on one segment.

    `points(idx)` returns the (len(idx), 3) positions of the given sample indices, so positions are
    only computed where a query is needed.
    """
    n = int(last[-1]) + 1 if len(last) else 0
    county = np.full(n, -1, dtype=np.int64)
    sure = np.zeros(n, dtype=bool)
    probed: list[np.ndarray] = []

    def probe(idx: np.ndarray) -> None:
        if len(idx) == 0:
            return
        d, i = world.county_tree.query(points(idx), k=2, workers=-1)
        county[idx] = i[:, 0]
        sure[idx] = d[:, 1] ** 2 - d[:, 0] ** 2 > SURE_MARGIN_KM2
        probed.append(idx)

    lo, hi = first.astype(np.int64), last.astype(np.int64)
    probe(np.unique(np.concatenate([lo, hi])))
    fill_lo: list[np.ndarray] = []
    fill_hi: list[np.ndarray] = []
    while len(lo):
        uniform = sure[lo] & sure[hi] & (county[lo] == county[hi])
        fill_lo.append(lo[uniform])
        fill_hi.append(hi[uniform])
        split = ~uniform & (hi - lo > 1)
        lo, hi = lo[split], hi[split]
        mid = (lo + hi) // 2
        probe(mid)
        lo, hi = np.concatenate([lo, mid]), np.concatenate([mid, hi])
    if fill_lo:
        f_lo, f_hi = np.concatenate(fill_lo), np.concatenate(fill_hi)
        length = f_hi - f_lo + 1
        offsets = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
        county[np.repeat(f_lo, length) + offsets] = np.repeat(county[f_lo], length)
    if probed:
        done = np.concatenate(probed)
        unsure = done[~sure[done]]
        county[unsure] = world.county_of(points(unsure))
    return county
