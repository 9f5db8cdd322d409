"""Exposure-notification benchmarks; writes the "## Exposure notification" section of BENCHMARKS.md.

.venv/bin/python bench/bench_exposure.py [--rounds 3] [--uploads 300] [--no-write]
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import secrets
import socket
import statistics
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

import httpx
import uvicorn

from benchmarks_md import show_section
from episignal.exposure import crypto
from episignal.exposure.keys import ReportType, TemporaryExposureKey
from episignal.exposure.keyserver.app import create_keyserver_app
from episignal.exposure.keyserver.exports import build_batch, load_signer
from episignal.exposure.keyserver.protocol import padded_publish_body
from episignal.exposure.matching import Scan, exposure_windows, match_keys
from episignal.exposure.settings import ExposureSettings, PhoneSettings
from episignal.exposure.verification import VerificationService, tek_hmac

ROOT = Path(__file__).resolve().parents[1]

SECTION = "## Exposure notification"
NOW = time.time()


def matching_workload(n_keys: int = 100_000, n_scans: int = 10_000, hits: int = 100):
    today = crypto.rolling_start_for(NOW)
    keys = [
        TemporaryExposureKey(secrets.token_bytes(16), today - 144 * (1 + i % 14))
        for i in range(n_keys)
    ]
    scans = []
    for i in range(n_scans):
        if i < hits:
            k = keys[i * (n_keys // hits)]
            j = i % 144
            tek = k.key_data
            r = crypto.rpi(crypto.derive_rpik(tek), k.rolling_start + j)
            a = crypto.aem(crypto.derive_aemk(tek), r, crypto.DEFAULT_METADATA)
            ts = crypto.interval_start_seconds(k.rolling_start + j) + 60
            scans.append(Scan(r, a, -60, ts))
        else:
            ts = int(NOW) - secrets.randbelow(14 * 86_400)
            scans.append(Scan(secrets.token_bytes(16), secrets.token_bytes(4), -75, ts))
    return keys, scans, hits


def bench_matching(rounds: int) -> dict:
    keys, scans, hits = matching_workload()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        found = match_keys(keys, scans)
        exposure_windows(found, PhoneSettings())
        times.append(time.perf_counter() - t)
        assert len(found) == hits, (len(found), hits)
    tracemalloc.start()
    match_keys(keys, scans)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"median_s": statistics.median(times), "peak_mib": peak / 2**20, "rounds": rounds}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bench_uploads(n_uploads: int, rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        verification = VerificationService(data)
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_keyserver_app(data), host="127.0.0.1", port=port, log_level="error"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        today = crypto.rolling_start_for(NOW)
        rates = []
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
                for _ in range(rounds):
                    bodies = []
                    for _ in range(n_uploads):  # prepared outside the timed loop
                        keys = [
                            TemporaryExposureKey(crypto.new_tek(), today - 144 * d)
                            for d in range(1, 15)
                        ]
                        token, _ = verification.verify_code(
                            verification.issue("confirmed", None).short_code
                        )
                        secret = secrets.token_bytes(32)
                        cert = verification.certificate(
                            token, base64.b64encode(tek_hmac(keys, secret)).decode()
                        )
                        bodies.append(
                            padded_publish_body(
                                keys=keys, certificate=cert, hmac_key=secret,
                                health_authority_id="bench",
                            )
                        )  # fmt: skip
                    t = time.perf_counter()
                    for body in bodies:
                        r = client.post("/v1/publish", content=body, headers={"X-Chaff": "0"})
                        assert r.status_code == 200 and r.json()["insertedExposures"] == 14
                    rates.append(n_uploads / (time.perf_counter() - t))
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    return {"median_per_s": statistics.median(rates), "uploads": n_uploads, "rounds": rounds}


def bench_export(n_keys: int, rounds: int) -> dict:
    settings = ExposureSettings().keyserver
    today = crypto.rolling_start_for(NOW)
    keys = [
        TemporaryExposureKey(
            secrets.token_bytes(16), today - 144 * (1 + i % 14), 144, 0,
            ReportType.CONFIRMED_TEST, i % 10 - 2,
        )
        for i in range(n_keys)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        signer = load_signer(Path(tmp), settings)
        times, sizes = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            files = build_batch(keys, 0, 3600, settings, signer)
            times.append(time.perf_counter() - t)
            sizes.append(sum(len(f.data) for f in files))
    return {
        "median_s": statistics.median(times),
        "files": len(files),
        "mib": sizes[-1] / 2**20,
        "rounds": rounds,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--uploads", type=int, default=300)
    ap.add_argument("--export-keys", type=int, default=1_000_000)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    m = bench_matching(args.rounds)
    print("matching", m)
    u = bench_uploads(args.uploads, args.rounds)
    print("uploads", u)
    e = bench_export(args.export_keys, args.rounds)
    print("export", e)
    rows = "\n".join(
        [
            "| phone-side matching: 100,000 diagnosis keys (14 days, 14.4 M RPIs) vs 10,000 "
            f"stored scans, with exposure windows | {m['median_s']:.2f} s, "
            f"peak Python memory {m['peak_mib']:.0f} MiB |",
            "| key server uploads on loopback (uvicorn on 127.0.0.1, one client, 14 keys each, "
            "certificate + HMAC checked, 8 KiB padded bodies) | "
            f"{u['median_per_s']:.0f} uploads/s |",
            f"| build and sign an export of {args.export_keys:,} keys ({e['files']} files, "
            f"{e['mib']:.1f} MiB zipped) | {e['median_s']:.2f} s |",
        ]
    )
    text = f"""{SECTION}

Command: `.venv/bin/python bench/bench_exposure.py --rounds {args.rounds} --uploads {args.uploads}`
on {os.cpu_count()} cores, Python {platform.python_version()}; medians of {args.rounds} rounds.

| what | result |
| --- | --- |
{rows}

Matching derives each key's 144 RPIs with one HKDF and one AES-ECB call, then compares 64-bit
prefixes against a 16 M-entry filter in numpy before confirming full 16-byte matches.
"""
    show_section(SECTION, text, write=not args.no_write)


if __name__ == "__main__":
    main()
