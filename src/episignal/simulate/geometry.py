"""Positions as 3-D points on a sphere (km): Euclidean nearest neighbours are then exact on Earth.

Chord distance grows monotonically with great-circle distance, so a KD-tree over these points finds
the truly nearest cell or county centroid anywhere in China without a map projection's distortion.
"""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0


def to_xyz(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """WGS-84 degrees → (n, 3) points on a sphere of the Earth's mean radius, in km."""
    lon_r = np.radians(np.asarray(lon, dtype=np.float64))
    lat_r = np.radians(np.asarray(lat, dtype=np.float64))
    cos_lat = np.cos(lat_r)
    return (
        np.column_stack((cos_lat * np.cos(lon_r), cos_lat * np.sin(lon_r), np.sin(lat_r)))
        * EARTH_RADIUS_KM
    )


def to_lonlat(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of to_xyz (points need not lie exactly on the sphere)."""
    x, y, z = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    lon = np.degrees(np.arctan2(y, x))
    lat = np.degrees(np.arctan2(z, np.hypot(x, y)))
    return lon, lat


def tangent_basis(xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit east and north vectors at each point, to scatter positions by km offsets."""
    norm = xyz / np.linalg.norm(xyz, axis=1, keepdims=True)
    east = np.column_stack((-norm[:, 1], norm[:, 0], np.zeros(len(norm))))
    east /= np.maximum(np.linalg.norm(east, axis=1, keepdims=True), 1e-12)
    north = np.cross(norm, east)
    return east, north


def offset(xyz: np.ndarray, east_km: np.ndarray, north_km: np.ndarray) -> np.ndarray:
    """Move points by (east, north) km in their tangent plane and put them back on the sphere."""
    east, north = tangent_basis(xyz)
    moved = xyz + east * east_km[:, None] + north * north_km[:, None]
    return moved / np.linalg.norm(moved, axis=1, keepdims=True) * EARTH_RADIUS_KM


def distance_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Chord distance between rows of a and b (≈ great-circle distance below ~2000 km)."""
    return np.linalg.norm(a - b, axis=-1)
