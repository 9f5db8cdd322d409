"""Key server HTTP API: publish diagnosis keys, download export files and the public key."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import ValidationError

from episignal.exposure import crypto
from episignal.exposure.export_format import load_public_key
from episignal.exposure.keys import TemporaryExposureKey
from episignal.exposure.keyserver.exports import (
    INDEX_NAME,
    export_public_key_path,
    exports_dir,
    keyserver_dir,
    load_signer,
    run_exports,
)
from episignal.exposure.keyserver.protocol import (
    CHAFF_HEADER,
    MAX_KEY_AGE_DAYS,
    MAX_PUBLISH_BODY_BYTES,
    MAX_TRANSMISSION_RISK,
    KeyErrorOut,
    PublishRequest,
    PublishResponse,
    padded_response,
)
from episignal.exposure.keyserver.store import KeyStore, StoredKey
from episignal.exposure.settings import ExposureSettings, load_settings
from episignal.exposure.verification import (
    VerificationError,
    certificate_public_key_path,
    hmac_matches,
    verify_certificate,
)

_EXPORT_NAME = re.compile(r"[A-Za-z0-9_.]{1,16}/\d{1,12}-\d{1,12}-\d{5}\.zip")


class PublishRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _json_response(resp: PublishResponse, status: int = 200) -> Response:
    return Response(padded_response(resp), status_code=status, media_type="application/json")


class Publisher:
    """Validation and storage of one upload (kept apart from HTTP for direct use and tests)."""

    def __init__(self, data_dir: Path, settings: ExposureSettings, store: KeyStore) -> None:
        self.settings = settings
        self.store = store
        self.certificate_key = load_public_key(certificate_public_key_path(data_dir).read_bytes())
        self._chaff_key = ec.generate_private_key(ec.SECP256R1())
        self._chaff_sig = self._chaff_key.sign(b"chaff", ec.ECDSA(hashes.SHA256()))

    def publish(self, req: PublishRequest, now_unix: float) -> PublishResponse:
        ks = self.settings.keyserver
        try:
            cert = verify_certificate(
                req.verificationPayload,
                self.certificate_key,
                issuer=ks.certificate_issuer,
                audience=ks.certificate_audience,
            )
        except VerificationError as e:
            raise PublishRefused(401, str(e)) from None
        try:
            hmac_key = base64.b64decode(req.hmacKey, validate=True)
        except ValueError:
            raise PublishRefused(400, "hmacKey is not base64") from None
        keys: list[TemporaryExposureKey] = []
        errors: list[KeyErrorOut] = []
        for k in req.temporaryExposureKeys:
            try:
                data = base64.b64decode(k.key, validate=True)
            except ValueError:
                data = b""
            keys.append(
                TemporaryExposureKey(
                    data, k.rollingStartNumber, k.rollingPeriod, k.transmissionRisk
                )
            )
        if not hmac_matches(keys, hmac_key, cert.tekmac):
            raise PublishRefused(401, "the keys do not match the certificate's HMAC")
        now_interval = crypto.en_interval_number(now_unix)
        oldest = now_interval - MAX_KEY_AGE_DAYS * crypto.TEK_ROLLING_PERIOD
        onset_day = (
            cert.symptom_onset_interval // crypto.TEK_ROLLING_PERIOD
            if cert.symptom_onset_interval is not None
            else None
        )
        rows: list[StoredKey] = []
        row_index: list[int] = []
        seen: set[bytes] = set()
        for i, k in enumerate(keys):
            reason = None
            if len(k.key_data) != crypto.TEK_BYTES:
                reason = f"key must be {crypto.TEK_BYTES} bytes, base64-encoded"
            elif not 1 <= k.rolling_period <= crypto.TEK_ROLLING_PERIOD:
                reason = "rollingPeriod must be within 1..144"
            elif not 0 <= k.transmission_risk <= MAX_TRANSMISSION_RISK:
                reason = "transmissionRisk must be within 0..8"
            elif k.end_interval <= oldest:
                reason = "key is older than 14 days"
            elif k.rolling_start > now_interval:
                reason = "key starts in the future"
            elif k.key_data in seen:
                reason = "key appears twice in this upload"
            if reason:
                errors.append(KeyErrorOut(index=i, error=reason))
                continue
            seen.add(k.key_data)
            days = (
                k.rolling_start // crypto.TEK_ROLLING_PERIOD - onset_day
                if onset_day is not None
                else None
            )
            stored = TemporaryExposureKey(
                k.key_data,
                k.rolling_start,
                k.rolling_period,
                k.transmission_risk,
                cert.report_type,
                days,
            )
            # a key still in use on the phone is held back until it has expired
            available = max(int(now_unix), crypto.interval_start_seconds(k.end_interval))
            rows.append(StoredKey(stored, int(now_unix), available))
            row_index.append(i)
        inserted = self.store.insert(rows)
        for i, ok in zip(row_index, inserted, strict=True):
            if not ok:
                errors.append(KeyErrorOut(index=i, error="key was already uploaded"))
        errors.sort(key=lambda e: e.index)
        return PublishResponse(insertedExposures=sum(inserted), keyErrors=errors)

    def chaff(self) -> PublishResponse:
        """Spend the work of a real upload (signature check) and store nothing."""
        # our own signature: always valid, but costs what checking a certificate costs
        self._chaff_key.public_key().verify(self._chaff_sig, b"chaff", ec.ECDSA(hashes.SHA256()))
        return PublishResponse(insertedExposures=0)


def create_keyserver_app(
    data_dir: Path,
    settings: ExposureSettings | None = None,
    *,
    export_every_seconds: float | None = None,
) -> FastAPI:
    """The key server. With ``export_every_seconds`` a background thread builds batches."""
    settings = settings or load_settings(data_dir)
    store = KeyStore(keyserver_dir(data_dir) / "keys.sqlite3")
    load_signer(data_dir, settings.keyserver)  # publish the public key from the start
    publisher = Publisher(data_dir, settings, store)
    app = FastAPI(title="episignal exposure key server", version="1")
    app.state.publisher = publisher
    app.state.store = store

    @app.post("/v1/publish")
    async def publish(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_PUBLISH_BODY_BYTES:
            return _json_response(PublishResponse(error="request body too large"), 413)
        if request.headers.get(CHAFF_HEADER) == "1":
            return _json_response(publisher.chaff())
        try:
            req = PublishRequest.model_validate(json.loads(body))
        except (ValueError, ValidationError) as e:
            msg = e.errors()[0]["msg"] if isinstance(e, ValidationError) else "body is not JSON"
            where = (
                ".".join(str(p) for p in e.errors()[0]["loc"]) + ": "
                if isinstance(e, ValidationError)
                else ""
            )
            return _json_response(PublishResponse(error=f"{where}{msg}"), 400)
        try:
            return _json_response(publisher.publish(req, time.time()))
        except PublishRefused as e:
            return _json_response(PublishResponse(error=str(e)), e.status)

    @app.get("/v1/index.txt", response_class=PlainTextResponse)
    def index() -> str:
        path = exports_dir(data_dir) / INDEX_NAME
        return path.read_text() if path.exists() else ""

    @app.get("/v1/exports/{name:path}")
    def export_file(name: str) -> Response:
        if not _EXPORT_NAME.fullmatch(name):
            raise HTTPException(404, "no such export file")
        path = exports_dir(data_dir) / name
        if not path.is_file():
            raise HTTPException(404, "no such export file")
        return Response(path.read_bytes(), media_type="application/zip")

    @app.get("/v1/public-key.pem", response_class=PlainTextResponse)
    def public_key() -> str:
        return export_public_key_path(data_dir).read_text()

    if export_every_seconds:
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(export_every_seconds):
                run_exports(data_dir, int(time.time()), settings)

        @app.on_event("shutdown")
        def _stop() -> None:
            stop.set()

        threading.Thread(target=loop, name="exposure-exports", daemon=True).start()
    return app
