"""Matching downloaded diagnosis keys against the scans a phone stored, then exposure windows.

Fast path for large downloads: one HKDF and one AES-ECB context per key encrypt all of its
intervals at once; the identifiers of a batch of keys are compared with the scans as 64-bit
prefixes in numpy (sorted search), and only prefix hits are confirmed on the full 16 bytes.
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from episignal.exposure import crypto
from episignal.exposure.keys import TemporaryExposureKey
from episignal.exposure.risk import ExposureWindow, ScanInstance
from episignal.exposure.settings import PhoneSettings

_KEYS_PER_BATCH = 4096  # 4096 keys × 144 RPIs × 16 B ≈ 9 MB of identifiers at a time
_FILTER_BITS = 24  # 16 M-entry filter on the low bits of each identifier: ~0.06 % false hits


@dataclass(frozen=True, slots=True)
class Scan:
    """One received advertisement: what the phone stores (encrypted) for 21 days."""

    rpi: bytes
    aem: bytes
    rssi_dbm: int
    ts_unix: int


@dataclass(frozen=True)
class KeyMatch:
    """A diagnosis key whose identifiers were heard: the scans and the interval of each RPI."""

    key: TemporaryExposureKey
    hits: tuple[tuple[Scan, int], ...]


class _Plaintexts:
    """RPI plaintext runs by (rolling start, period); keys of one day share theirs."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], bytes] = {}
        self._head = np.frombuffer(crypto.RPI_PAD_PREFIX + bytes(6), dtype=np.uint8)

    def get(self, start: int, period: int) -> bytes:
        got = self._cache.get((start, period))
        if got is None:
            blocks = np.empty((period, 16), dtype=np.uint8)
            blocks[:, :12] = self._head
            blocks[:, 12:] = (
                np.arange(start, start + period, dtype="<u4").view(np.uint8).reshape(period, 4)
            )
            got = self._cache[(start, period)] = blocks.tobytes()
        return got


def match_keys(
    keys: Sequence[TemporaryExposureKey],
    scans: Sequence[Scan],
    clock_drift_seconds: int = 7200,
) -> list[KeyMatch]:
    """Keys whose RPIs were heard within their validity (± clock drift)."""
    if not keys or not scans:
        return []
    by_rpi: dict[bytes, list[Scan]] = defaultdict(list)
    for s in scans:
        by_rpi[s.rpi].append(s)
    prefixes = np.unique(np.frombuffer(b"".join(r[:8] for r in by_rpi), dtype="<u8"))
    mask = np.uint64((1 << _FILTER_BITS) - 1)
    seen = np.zeros(1 << _FILTER_BITS, dtype=np.bool_)
    seen[prefixes & mask] = True
    plaintexts = _Plaintexts()
    found: dict[int, list[tuple[Scan, int]]] = defaultdict(list)
    for b0 in range(0, len(keys), _KEYS_PER_BATCH):
        batch = keys[b0 : b0 + _KEYS_PER_BATCH]
        ecb = modes.ECB()
        chunks = [
            Cipher(algorithms.AES(crypto.derive_rpik(k.key_data)), ecb)
            .encryptor()
            .update(plaintexts.get(k.rolling_start, k.rolling_period))
            for k in batch
        ]
        # first block of each key, to map a hit block back to its key and interval
        first_block = np.cumsum([0] + [k.rolling_period for k in batch[:-1]])
        ids = b"".join(chunks)
        heads = np.frombuffer(ids, dtype="<u8")[0::2]
        candidates = np.flatnonzero(seen[heads & mask])
        where = np.searchsorted(prefixes, heads[candidates])
        where[where == len(prefixes)] = 0
        for block in candidates[prefixes[where] == heads[candidates]]:
            owner = int(np.searchsorted(first_block, block, side="right")) - 1
            key = batch[owner]
            rpi = ids[block * 16 : block * 16 + 16]
            interval = key.rolling_start + int(block - first_block[owner])
            lo = crypto.interval_start_seconds(interval) - clock_drift_seconds
            hi = crypto.interval_start_seconds(interval + 1) + clock_drift_seconds
            for s in by_rpi.get(rpi, ()):
                if lo <= s.ts_unix < hi:
                    found[b0 + owner].append((s, interval))
    return [KeyMatch(keys[i], tuple(hits)) for i, hits in sorted(found.items())]


def exposure_windows(matches: Sequence[KeyMatch], phone: PhoneSettings) -> list[ExposureWindow]:
    """Group each key's scans into windows of at most ``window_max_minutes``.

    Attenuation = transmit power (from the decrypted metadata) − (RSSI + calibration). A scan is
    credited with the time since the previous scan of that key, at most one scan period.
    """
    windows: list[ExposureWindow] = []
    max_window = phone.window_max_minutes * 60
    for m in matches:
        aemk = crypto.derive_aemk(m.key.key_data)
        hits = sorted(m.hits, key=lambda h: h[0].ts_unix)
        current: list[ScanInstance] = []
        start = prev = None
        for scan, _interval in hits:
            meta = crypto.decrypt_aem(aemk, scan.rpi, scan.aem)
            tx = struct.unpack_from("<b", meta, 1)[0] if meta[0] >> 6 == 1 else phone.tx_power_dbm
            attenuation = max(0, tx - (scan.rssi_dbm + phone.rx_calibration_db))
            gap = phone.scan_interval_seconds if prev is None else scan.ts_unix - prev
            if gap == 0:
                continue  # the same advertisement heard twice in one scan
            credit = min(gap, phone.scan_interval_seconds)
            if start is None or scan.ts_unix - start >= max_window:
                if current:
                    windows.append(_window(m.key, start, current))
                current, start = [], scan.ts_unix
            current.append(ScanInstance(scan.ts_unix, attenuation, credit))
            prev = scan.ts_unix
        if current:
            windows.append(_window(m.key, start, current))
    return windows


def _window(
    key: TemporaryExposureKey, start: int | None, scans: list[ScanInstance]
) -> ExposureWindow:
    return ExposureWindow(
        start_unix=int(start or 0),
        report_type=key.report_type,
        days_since_onset=key.days_since_onset,
        scans=tuple(scans),
    )
