"""Crowd simulation: phones in shared places, a path-loss radio model, and ground truth.

People visit places (shops, offices, canteens) during the day; within a place each stands at a
random spot. Every 5 minutes each phone scans and hears the others with

    RSSI = TX power − (PL(d0) + 10·n·log10(d / d0)) + N(0, σ)        (log-distance path loss)

and keeps what it heard above its sensitivity. The ground truth is the real distance: a person
is a close contact when, on one day, they spent at least 15 minutes within 2 m of someone who is
later diagnosed. Phones of diagnosed people share their keys through a signed export file, and
every other phone runs the same matching and risk scoring as the phone library.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec

from episignal.exposure import crypto
from episignal.exposure.export_format import (
    ExportFile,
    ExportSigner,
    SignatureInfo,
    build_export_zip,
    verify_export,
)
from episignal.exposure.keys import ReportType, TemporaryExposureKey
from episignal.exposure.matching import Scan

SCAN_SECONDS = 300  # phones scan every 5 minutes
CLOSE_CONTACT_DISTANCE_M = 2.0  # ground-truth definition of "close"
CLOSE_CONTACT_MINUTES = 15  # ground-truth minimum cumulative time per day


@dataclass(frozen=True)
class RadioModel:
    """Log-distance path loss with Gaussian shadowing (dB)."""

    tx_power_dbm: int = 8
    path_loss_at_1m_db: float = 48.0
    path_loss_exponent: float = 2.0
    shadowing_sigma_db: float = 4.0
    sensitivity_dbm: float = -95.0  # weaker signals are not heard

    def rssi(self, distance_m: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        d = np.maximum(distance_m, 0.1)
        loss = self.path_loss_at_1m_db + 10 * self.path_loss_exponent * np.log10(d)
        return self.tx_power_dbm - loss + rng.normal(0.0, self.shadowing_sigma_db, size=d.shape)


@dataclass(frozen=True)
class CrowdParams:
    people: int = 200
    places: int = 16
    days: int = 5
    visits_per_day: int = 3
    visit_minutes: tuple[int, int] = (10, 120)
    place_side_m: float = 20.0  # places are squares of this side
    diagnosed_fraction: float = 0.05
    day_start_hour: int = 8  # visits happen between 08:00 and 22:00 local time
    day_end_hour: int = 22
    start_unix: int = 1_651_334_400  # 2022-04-30 16:00 UTC = 2022-05-01 00:00 Asia/Shanghai
    seed: int = 7
    radio: RadioModel = field(default_factory=RadioModel)


@dataclass
class CrowdRun:
    """Everything the evaluation needs: phones' scans, shared keys, and the truth."""

    params: CrowdParams
    scans: dict[int, list[Scan]]
    diagnosed: set[int]
    shared_keys: list[TemporaryExposureKey]
    close_contacts: set[int]  # ground truth
    own_keys: dict[int, set[bytes]]


class _PhoneKeys:
    """Per person and day: TEK, and RPI/AEM per interval (derived once, used by every scan)."""

    def __init__(self, rng: random.Random, metadata: bytes) -> None:
        self.rng = rng
        self.metadata = metadata
        self.teks: dict[tuple[int, int], bytes] = {}
        self.runs: dict[tuple[int, int], tuple[bytes, bytes]] = {}

    def tek(self, person: int, rolling_start: int) -> bytes:
        k = (person, rolling_start)
        if k not in self.teks:
            self.teks[k] = self.rng.randbytes(crypto.TEK_BYTES)
        return self.teks[k]

    def payload(self, person: int, ts_unix: int) -> tuple[bytes, bytes]:
        start = crypto.rolling_start_for(ts_unix)
        tek = self.tek(person, start)
        if (person, start) not in self.runs:
            self.runs[(person, start)] = (
                crypto.rpi_run(crypto.derive_rpik(tek), start),
                crypto.derive_aemk(tek),
            )
        run, aemk = self.runs[(person, start)]
        j = crypto.en_interval_number(ts_unix) - start
        rpi = run[j * 16 : j * 16 + 16]
        return rpi, crypto.aem(aemk, rpi, self.metadata)


def simulate_crowd(params: CrowdParams | None = None) -> CrowdRun:
    p = params or CrowdParams()
    rng = random.Random(p.seed)
    nprng = np.random.default_rng(p.seed)
    keys = _PhoneKeys(rng, crypto.encode_metadata(p.radio.tx_power_dbm))
    # visits: (day, place) → list of (person, first tick, last tick, x, y)
    first_tick = p.day_start_hour * 3600 // SCAN_SECONDS
    last_tick = p.day_end_hour * 3600 // SCAN_SECONDS
    visits: dict[tuple[int, int], list[tuple[int, int, int, float, float]]] = defaultdict(list)
    for day in range(p.days):
        for person in range(p.people):
            for _ in range(p.visits_per_day):
                length = rng.randint(*p.visit_minutes) * 60 // SCAN_SECONDS + 1
                t0 = rng.randint(first_tick, max(first_tick, last_tick - length))
                x, y = rng.uniform(0, p.place_side_m), rng.uniform(0, p.place_side_m)
                visits[(day, rng.randrange(p.places))].append((person, t0, t0 + length, x, y))
    diagnosed = set(rng.sample(range(p.people), max(1, round(p.people * p.diagnosed_fraction))))
    scans: dict[int, list[Scan]] = defaultdict(list)
    close_minutes: dict[tuple[int, int], float] = defaultdict(float)  # (day, person) near a case
    for (day, _place), vs in sorted(visits.items()):
        by_tick: dict[int, list[tuple[int, float, float]]] = defaultdict(list)
        for person, t0, t1, x, y in vs:
            for tick in range(t0, t1):
                by_tick[tick].append((person, x, y))
        for tick, present in sorted(by_tick.items()):
            people = list({q[0]: q for q in present}.values())  # one spot per person and tick
            if len(people) < 2:
                continue
            ids = np.array([q[0] for q in people])
            xy = np.array([(q[1], q[2]) for q in people])
            dist = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
            rssi = p.radio.rssi(dist, nprng)
            ts = p.start_unix + day * 86_400 + tick * SCAN_SECONDS
            for a in range(len(people)):
                for b in range(len(people)):
                    if a == b:
                        continue
                    if ids[b] in diagnosed and dist[a, b] <= CLOSE_CONTACT_DISTANCE_M:
                        close_minutes[(day, int(ids[a]))] += SCAN_SECONDS / 60
                    if rssi[a, b] >= p.radio.sensitivity_dbm:
                        rpi, aem = keys.payload(int(ids[b]), ts)
                        scans[int(ids[a])].append(Scan(rpi, aem, round(rssi[a, b]), ts))
        del by_tick
    close = {
        person
        for (_day, person), minutes in close_minutes.items()
        if minutes >= CLOSE_CONTACT_MINUTES and person not in diagnosed
    }
    onset_day = crypto.rolling_start_for(p.start_unix) // 144 + p.days - 2
    shared = [
        TemporaryExposureKey(
            tek, start, report_type=ReportType.CONFIRMED_TEST,
            days_since_onset=start // 144 - onset_day,
        )
        for (person, start), tek in sorted(keys.teks.items())
        if person in diagnosed
    ]  # fmt: skip
    own: dict[int, set[bytes]] = defaultdict(set)
    for (person, _start), tek in keys.teks.items():
        own[person].add(tek)
    return CrowdRun(p, dict(scans), diagnosed, _through_export(shared), close, dict(own))


def _through_export(keys: list[TemporaryExposureKey]) -> list[TemporaryExposureKey]:
    """Publish the keys in a signed export file and read them back as a phone would."""
    signer = ExportSigner(ec.generate_private_key(ec.SECP256R1()), SignatureInfo("v1", "sim"))
    export = ExportFile(0, 1, "sim", 1, 1, (signer.info,), tuple(keys))
    data = build_export_zip(export, [signer])
    return list(verify_export(data, signer.private_key.public_key()).export.keys)


def distance_for_attenuation(attenuation_db: float, radio: RadioModel) -> float:
    """Inverse of the path-loss model (no noise): what distance an attenuation suggests."""
    return 10 ** ((attenuation_db - radio.path_loss_at_1m_db) / (10 * radio.path_loss_exponent))


__all__ = [
    "CLOSE_CONTACT_DISTANCE_M",
    "CLOSE_CONTACT_MINUTES",
    "CrowdParams",
    "CrowdRun",
    "RadioModel",
    "distance_for_attenuation",
    "simulate_crowd",
]
