"""The phone side: key schedule, encrypted scan storage, matching, notification, sharing keys.

What a phone hears is stored encrypted at rest (AES-256-GCM under a device key that never leaves
the phone) and deleted after 21 days. Matching happens only on the phone; the result is shown to
the user, and only with their consent is the card service told to turn their card orange.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import httpx
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from episignal.atomic_file import replacing
from episignal.exposure import crypto
from episignal.exposure.export_format import (
    ExportVerificationError,
    load_public_key,
    verify_export,
)
from episignal.exposure.keys import KeySchedule, TemporaryExposureKey
from episignal.exposure.matching import Scan, exposure_windows, match_keys
from episignal.exposure.risk import DailyRisk, days_at_risk
from episignal.exposure.settings import ExposureSettings
from episignal.exposure.verification import tek_hmac

DEVICE_KEY_BYTES = 32  # AES-256-GCM device key
_NONCE_BYTES = 12  # AES-GCM nonce
_SCAN_RECORD = struct.Struct("<16s4sbq")  # rpi, aem, rssi (dBm), ts (unix seconds)
_SCAN_AAD = b"episignal/exposure/scan/v1"
_KEYS_AAD = b"episignal/exposure/teks/v1"
_STATE_AAD = b"episignal/exposure/state/v1"
ADVICE_ZH = "您可能曾与新冠病毒感染者密切接触。请减少外出、做好个人防护，并尽快进行核酸检测。"
ADVICE_EN = (
    "You may have been in close contact with someone who tested positive. "
    "Limit your contacts, wear a mask and get tested as soon as possible."
)
CLOSE_CONTACT_SOURCE = "exposure_notification"  # the card service's source for this loop


class PhoneStorageError(RuntimeError):
    """Stored phone data that fails authentication (tampered, or another device's key)."""


class KeySharingError(RuntimeError):
    """A step of sharing keys failed; the message says which and why."""


@dataclass(frozen=True)
class ExposureNotification:
    """What the app shows after a match above the threshold."""

    exposure_date: date  # most recent day at risk (Asia/Shanghai)
    weighted_minutes: float
    days: tuple[DailyRisk, ...]
    advice_zh: str = ADVICE_ZH
    advice_en: str = ADVICE_EN


def _write_private(path: Path, data: bytes) -> None:
    """Atomic replace of an owner-only file."""
    with replacing(path, private=True) as tmp:
        tmp.write_bytes(data)


class Phone:
    """One phone's exposure-notification state in a directory (a real app: its private storage)."""

    def __init__(self, directory: Path, settings: ExposureSettings | None = None) -> None:
        self.dir = directory
        self.settings = settings or ExposureSettings()
        self.dir.mkdir(parents=True, exist_ok=True)
        self._aead = AESGCM(self._device_key())
        stored = self._load_json(self._keys_path, _KEYS_AAD, {})
        self.schedule = KeySchedule({int(k): base64.b64decode(v) for k, v in stored.items()})

    # --- storage -------------------------------------------------------------------------------
    @property
    def _scans_path(self) -> Path:
        return self.dir / "scans.bin"

    @property
    def _keys_path(self) -> Path:
        return self.dir / "teks.bin"

    @property
    def _state_path(self) -> Path:
        return self.dir / "state.bin"

    def _device_key(self) -> bytes:
        path = self.dir / "device.key"
        if path.exists():
            key = path.read_bytes()
        else:
            key = AESGCM.generate_key(bit_length=8 * DEVICE_KEY_BYTES)
            _write_private(path, key)
        return key

    def _seal(self, plain: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plain, aad)

    def _open(self, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise PhoneStorageError(
                "stored data does not authenticate with this device key"
            ) from None

    def _load_json(self, path: Path, aad: bytes, default: dict) -> dict:
        if not path.exists():
            return default
        return json.loads(self._open(path.read_bytes(), aad))

    def _save_json(self, path: Path, aad: bytes, value: dict) -> None:
        _write_private(path, self._seal(json.dumps(value).encode(), aad))

    def _save_keys(self) -> None:
        value = {str(k): base64.b64encode(v).decode() for k, v in self.schedule.keys.items()}
        self._save_json(self._keys_path, _KEYS_AAD, value)

    # --- broadcasting ---------------------------------------------------------------------------
    def advertisement(self, now_unix: float) -> bytes:
        """RPI ‖ AEM to broadcast now (a new TEK on a new day is created and kept encrypted)."""
        before = len(self.schedule.keys)
        payload = self.schedule.advertisement(
            now_unix, crypto.encode_metadata(self.settings.phone.tx_power_dbm)
        )
        if len(self.schedule.keys) != before:
            self._save_keys()
        return payload

    # --- scanning -------------------------------------------------------------------------------
    def record_scans(self, scans: Iterable[Scan]) -> int:
        """Append received advertisements, each sealed on its own (append-only file)."""
        out = bytearray()
        n = 0
        for s in scans:
            sealed = self._seal(_SCAN_RECORD.pack(s.rpi, s.aem, s.rssi_dbm, s.ts_unix), _SCAN_AAD)
            out += struct.pack("<H", len(sealed)) + sealed
            n += 1
        if out:
            with open(self._scans_path, "ab") as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(out)
        return n

    def record_scan(self, payload: bytes, rssi_dbm: int, ts_unix: int) -> None:
        rpi, aem = crypto.split_advertisement(payload)
        self.record_scans([Scan(rpi, aem, rssi_dbm, int(ts_unix))])

    def scans(self) -> list[Scan]:
        """Every stored scan, decrypted (authenticated; tampering raises PhoneStorageError)."""
        if not self._scans_path.exists():
            return []
        data = self._scans_path.read_bytes()
        out: list[Scan] = []
        pos = 0
        while pos < len(data):
            (size,) = struct.unpack_from("<H", data, pos)
            rec = self._open(data[pos + 2 : pos + 2 + size], _SCAN_AAD)
            out.append(Scan(*_SCAN_RECORD.unpack(rec)))
            pos += 2 + size
        return out

    def purge(self, now_unix: float) -> int:
        """Delete scans older than the retention (21 days) and TEKs older than 14 days."""
        cutoff = now_unix - self.settings.phone.scan_retention_days * 86_400
        scans = self.scans()
        keep = [s for s in scans if s.ts_unix >= cutoff]
        if len(keep) != len(scans):
            self._scans_path.unlink()
            self.record_scans(keep)
        if self.schedule.purge(now_unix, self.settings.phone.tek_retention_days):
            self._save_keys()
        return len(scans) - len(keep)

    # --- matching -------------------------------------------------------------------------------
    def check_exposure(
        self, diagnosis_keys: Sequence[TemporaryExposureKey]
    ) -> ExposureNotification | None:
        """Match downloaded keys locally; a notification when a day reaches the threshold."""
        own = set(self.schedule.keys.values())
        keys = [k for k in diagnosis_keys if k.key_data not in own]
        matches = match_keys(keys, self.scans(), self.settings.phone.clock_drift_minutes * 60)
        windows = exposure_windows(matches, self.settings.phone)
        days = days_at_risk(windows, self.settings.risk)
        if not days:
            return None
        latest = days[-1]
        return ExposureNotification(latest.day, latest.weighted_minutes, tuple(days))

    def download_keys(
        self, client: httpx.Client, public_key_pem: bytes, base_path: str = "/v1"
    ) -> list[TemporaryExposureKey]:
        """New export files from the key server, each verified before its keys are used."""
        public_key = load_public_key(public_key_pem)
        state = self._load_json(self._state_path, _STATE_AAD, {"processed": []})
        done = set(state["processed"])
        index = client.get(f"{base_path}/index.txt")
        index.raise_for_status()
        keys: list[TemporaryExposureKey] = []
        for name in index.text.split():
            if name in done:
                continue
            resp = client.get(f"{base_path}/exports/{name}")
            resp.raise_for_status()
            try:
                keys.extend(verify_export(resp.content, public_key).export.keys)
            except ExportVerificationError as e:
                raise ExportVerificationError(f"{name}: {e}") from None
            done.add(name)
        state["processed"] = sorted(done)
        self._save_json(self._state_path, _STATE_AAD, state)
        return keys

    # --- sharing keys after a diagnosis --------------------------------------------------------
    def share_keys(
        self,
        *,
        code: str,
        verification: httpx.Client,
        keyserver: httpx.Client,
        now_unix: float,
        health_authority_id: str = "episignal",
    ) -> dict:
        """Code → token → certificate bound to the keys' HMAC → upload; returns the server reply."""
        keys = self.schedule.keys_to_share(now_unix, self.settings.phone.tek_retention_days)
        if not keys:
            raise KeySharingError("this phone has no keys to share")
        resp = verification.post("/api/verify", json={"code": code})
        if resp.status_code != 200:
            raise KeySharingError(f"code not accepted: {_reason(resp)}")
        token = resp.json()["token"]
        hmac_key = secrets.token_bytes(32)  # known only to this phone until the upload
        mac = tek_hmac(keys, hmac_key)
        resp = verification.post(
            "/api/certificate",
            json={"token": token, "ekeyhmac": base64.b64encode(mac).decode()},
        )
        if resp.status_code != 200:
            raise KeySharingError(f"certificate refused: {_reason(resp)}")
        from episignal.exposure.keyserver.protocol import padded_publish_body

        body = padded_publish_body(
            keys=keys,
            certificate=resp.json()["certificate"],
            hmac_key=hmac_key,
            health_authority_id=health_authority_id,
        )
        resp = keyserver.post(
            "/v1/publish",
            content=body,
            headers={"Content-Type": "application/json", "X-Chaff": "0"},
        )
        if resp.status_code != 200:
            raise KeySharingError(f"upload refused: {_reason(resp)}")
        return resp.json()

    def send_chaff(self, keyserver: httpx.Client) -> int:
        """A fake upload, indistinguishable on the wire from a real one; stores nothing."""
        from episignal.exposure.keyserver.protocol import chaff_publish_body

        resp = keyserver.post(
            "/v1/publish",
            content=chaff_publish_body(),
            headers={"Content-Type": "application/json", "X-Chaff": "1"},
        )
        return resp.status_code


def _reason(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("detail") or resp.json().get("error") or resp.text)
    except ValueError:
        return f"HTTP {resp.status_code}"


def report_close_contact(
    client: httpx.Client,
    *,
    bearer_token: str,
    msisdn: str,
    exposure_date: date,
    consent: bool,
) -> httpx.Response:
    """Tell the card service (with the user's consent) to turn this subscriber's card orange.

    ``client`` points at the card service (``episignal.web.app:create_app``); the token carries
    the ``close-contact:write`` scope. Without consent nothing is sent.
    """
    if not consent:
        raise PermissionError("the user did not consent to informing the card service")
    return client.post(
        "/api/close-contacts",
        headers={"Authorization": f"Bearer {bearer_token}"},
        json={
            "msisdn": msisdn,
            "source": CLOSE_CONTACT_SOURCE,
            "exposure_date": exposure_date.isoformat(),
            "consent": True,
        },
    )
