"""The three simulated home carriers and the foreign networks their subscribers roam onto."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Carrier:
    plmn: str  # MCC+MNC, the prefix of the carrier's canonical cell ids
    export_format: str  # the raw export layout of docs/data-contracts.md
    market_share: float
    number_prefixes: tuple[str, ...]  # first three digits of its 11-digit mobile numbers
    cells_per_urban_county: int
    cells_per_rural_county: int


CARRIERS: tuple[Carrier, ...] = (
    Carrier("46000", "carrier-a", 0.6, ("138", "139", "150"), 28, 12),
    Carrier("46001", "carrier-b", 0.2, ("186", "130", "155"), 16, 8),
    Carrier("46011", "carrier-c", 0.2, ("189", "133", "153"), 16, 8),
)
CARRIER_PLMNS: tuple[str, ...] = tuple(c.plmn for c in CARRIERS)


@dataclass(frozen=True)
class ForeignNetwork:
    country: str  # ISO 3166 alpha-2
    plmn: str  # the visited network's MCC+MNC
    lon: float  # where its simulated cells cluster (the main destination city)
    lat: float
    weight: float  # share of trips abroad going there


FOREIGN_NETWORKS: tuple[ForeignNetwork, ...] = (
    ForeignNetwork("JP", "44010", 139.69, 35.69, 0.22),
    ForeignNetwork("KR", "45005", 126.98, 37.57, 0.18),
    ForeignNetwork("TH", "52001", 100.50, 13.75, 0.17),
    ForeignNetwork("SG", "52501", 103.82, 1.35, 0.10),
    ForeignNetwork("MY", "50212", 101.69, 3.14, 0.08),
    ForeignNetwork("US", "310260", -118.24, 34.05, 0.09),
    ForeignNetwork("GB", "23415", -0.13, 51.51, 0.06),
    ForeignNetwork("AU", "50501", 151.21, -33.87, 0.05),
    ForeignNetwork("DE", "26201", 8.68, 50.11, 0.05),
)
FOREIGN_CELLS_PER_NETWORK = 12  # per home carrier: roaming records of each carrier name its own set

# The number space of one 3-digit prefix: 8 digits after it.
_SUFFIX_SPACE = 10**8
# Multiplier coprime with 10**8, so index → suffix is a bijection (numbers never collide).
_SUFFIX_MULTIPLIER = 48_271_207
_SUFFIX_OFFSET = 13_579_246


def national_numbers(
    index: np.ndarray, carrier: np.ndarray, prefix_choice: np.ndarray
) -> np.ndarray:
    """11-digit national numbers (int64) for subscriber indices, unique and deterministic.

    The 8-digit suffix is a bijection of the index, so two subscribers never share a number even
    when they draw the same prefix.
    """
    prefixes = np.array([[int(p) for p in c.number_prefixes] for c in CARRIERS], dtype=np.int64)
    prefix = prefixes[carrier, prefix_choice % prefixes.shape[1]]
    suffix = (index.astype(np.int64) * _SUFFIX_MULTIPLIER + _SUFFIX_OFFSET) % _SUFFIX_SPACE
    return prefix * _SUFFIX_SPACE + suffix
