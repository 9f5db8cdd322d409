"""Export batches: every N hours, the keys that became available, padded and signed.

A batch covers [start, end) of server time; keys appear in the batch in which they became
available (a key still valid on the phone is held back until it expires). Batches are padded
with random keys up to a minimum size, so a batch never tells how many people uploaded, and
split into files of at most ``max_keys_per_file``. ``index.txt`` lists the files of the last
14 days; older files and keys are deleted.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from episignal.atomic_file import replacing
from episignal.exposure import crypto
from episignal.exposure.export_format import (
    ExportFile,
    ExportSigner,
    SignatureInfo,
    build_export_zip,
    public_key_pem,
)
from episignal.exposure.keys import ReportType, TemporaryExposureKey
from episignal.exposure.keyserver.store import KeyStore
from episignal.exposure.settings import ExposureSettings, KeyServerSettings, load_settings
from episignal.exposure.verification import _load_or_create_ec_key
from episignal.layout import Layout

INDEX_NAME = "index.txt"  # newline-separated export file names, oldest first


def keyserver_dir(data_dir: Path) -> Path:
    return Layout(data_dir).exposure / "keyserver"


def exports_dir(data_dir: Path) -> Path:
    return keyserver_dir(data_dir) / "exports"


def export_public_key_path(data_dir: Path) -> Path:
    return keyserver_dir(data_dir) / "export-public-key.pem"


def load_signer(data_dir: Path, settings: KeyServerSettings) -> ExportSigner:
    """The export signing key (created on first use) and its published public key."""
    key: ec.EllipticCurvePrivateKey = _load_or_create_ec_key(
        keyserver_dir(data_dir) / "export-signing-key.pem"
    )
    pub = export_public_key_path(data_dir)
    if not pub.exists():
        pub.write_bytes(public_key_pem(key.public_key()))
    return ExportSigner(key, SignatureInfo(settings.signing_key_version, settings.signing_key_id))


def fake_keys(
    count: int, real: Sequence[TemporaryExposureKey], end_unix: int, rng: random.Random
) -> list[TemporaryExposureKey]:
    """Random keys shaped like the real ones (same day, report type and onset distribution)."""
    newest = crypto.rolling_start_for(end_unix) - crypto.TEK_ROLLING_PERIOD
    out = []
    for _ in range(count):
        if real:
            like = rng.choice(real)
            start, period = like.rolling_start, like.rolling_period
            risk, report, onset = like.transmission_risk, like.report_type, like.days_since_onset
        else:
            start = newest - rng.randrange(14) * crypto.TEK_ROLLING_PERIOD
            period, risk, report, onset = (
                crypto.TEK_ROLLING_PERIOD,
                0,
                ReportType.CONFIRMED_TEST,
                rng.randint(-3, 10),
            )
        out.append(
            TemporaryExposureKey(secrets.token_bytes(16), start, period, risk, report, onset)
        )
    return out


@dataclass(frozen=True)
class BuiltFile:
    name: str
    data: bytes
    keys: int


def build_batch(
    keys: Sequence[TemporaryExposureKey],
    start_unix: int,
    end_unix: int,
    settings: KeyServerSettings,
    signer: ExportSigner,
) -> list[BuiltFile]:
    """Pad, shuffle, split and sign one batch: the files to publish."""
    rng = random.Random(secrets.randbits(64))
    padded = list(keys)
    if len(padded) < settings.min_keys_per_batch:
        padded += fake_keys(settings.min_keys_per_batch - len(padded), keys, end_unix, rng)
    padded.sort(key=lambda k: k.key_data)  # keys are random: sorting shuffles real and fake
    per_file = settings.max_keys_per_file
    parts = [padded[i : i + per_file] for i in range(0, len(padded), per_file)] or [[]]
    files = []
    for n, part in enumerate(parts, start=1):
        export = ExportFile(
            start_unix, end_unix, settings.region, n, len(parts), (signer.info,), tuple(part)
        )
        name = f"{settings.region}/{start_unix}-{end_unix}-{n:05d}.zip"
        files.append(BuiltFile(name, build_export_zip(export, [signer]), len(part)))
    return files


def _write(path: Path, data: bytes) -> None:
    with replacing(path) as tmp:
        tmp.write_bytes(data)


def run_exports(
    data_dir: Path,
    now_unix: int,
    settings: ExposureSettings | None = None,
    store: KeyStore | None = None,
) -> list[str]:
    """Build every batch that has ended and not been built; apply retention; rewrite the index."""
    settings = settings or load_settings(data_dir)
    ks = settings.keyserver
    own_store = store is None
    store = store or KeyStore(keyserver_dir(data_dir) / "keys.sqlite3")
    try:
        signer = load_signer(data_dir, ks)
        period = ks.export_period_hours * 3600
        last_end = store.last_export_end()
        if last_end is None:
            first = store.first_available_unix()
            last_end = (first // period * period) if first is not None else None
        built: list[str] = []
        if last_end is not None:
            start = last_end
            while start + period <= now_unix:
                end = start + period
                for f in build_batch(store.available_between(start, end), start, end, ks, signer):
                    _write(exports_dir(data_dir) / f.name, f.data)
                    store.record_export(f.name, start, end, f.keys)
                    built.append(f.name)
                start = end
        # retention: keys and files older than 14 days leave the server
        horizon = now_unix - ks.retention_days * 86_400
        store.delete_keys_ended_before(crypto.en_interval_number(horizon))
        for name in store.delete_exports_ended_before(horizon):
            (exports_dir(data_dir) / name).unlink(missing_ok=True)
        index = "".join(f"{n}\n" for n in store.export_names())
        _write(exports_dir(data_dir) / INDEX_NAME, index.encode())
        return built
    finally:
        if own_store:
            store.close()
