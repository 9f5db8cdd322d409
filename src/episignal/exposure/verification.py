"""Health-authority verification: one-time code → token → ES256 certificate bound to the keys.

The health authority issues a code for a diagnosed person (short: 8 digits, 15 minutes, read out
or sent by SMS; long: 16 characters, 24 hours). The phone trades the code for a token, then the
token and an HMAC of the keys it will upload for a certificate (a JWT signed with ES256) that the
key server checks. The HMAC key stays on the phone until the upload, so the verification server
never learns the keys and the key server never learns who the person is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from episignal.exposure import crypto
from episignal.exposure.keys import ReportType, TemporaryExposureKey
from episignal.exposure.settings import ExposureSettings, load_settings
from episignal.layout import Layout
from episignal.privacy.secret_file import KeyFileError, read_or_create

# --- Constants of the verification protocol ---------------------------------------------------
SHORT_CODE_LENGTH = 8  # short code: 8 digits, typed by the user (valid 15 minutes by default)
LONG_CODE_LENGTH = 16  # long code: 16 characters, sent by SMS (valid 24 hours by default)
LONG_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i look-alikes
TOKEN_BYTES = 32  # opaque single-use token between code and certificate
TEKMAC_BYTES = 32  # HMAC-SHA256 of the keys, carried in the certificate as base64
CERTIFICATE_ALGORITHM = "ES256"  # ECDSA P-256 with SHA-256 (RFC 7518 §3.4)
TEST_TYPES = {
    "confirmed": ReportType.CONFIRMED_TEST,
    "likely": ReportType.CONFIRMED_CLINICAL_DIAGNOSIS,
}
ISSUER_KEY_ENV = "EPISIGNAL_EXPOSURE_ISSUER_KEY"  # API key of the health authority's staff


class VerificationError(ValueError):
    """A code, token or certificate that is not accepted; the message says why."""


def _hmac_input(keys: Sequence[TemporaryExposureKey], with_risk: bool) -> bytes:
    parts = sorted(
        f"{k.key_b64}.{k.rolling_start}.{k.rolling_period}"
        + (f".{k.transmission_risk}" if with_risk else "")
        for k in keys
    )
    return ",".join(parts).encode("ascii")


def tek_hmac(keys: Sequence[TemporaryExposureKey], secret: bytes) -> bytes:
    """HMAC-SHA256 over "base64key.rollingStart.rollingPeriod" of each key, sorted, comma-joined."""
    return hmac.new(secret, _hmac_input(keys, with_risk=False), hashlib.sha256).digest()


def tek_hmac_legacy(keys: Sequence[TemporaryExposureKey], secret: bytes) -> bytes:
    """The earlier form that also carried ".transmissionRisk" (still sent by older apps)."""
    return hmac.new(secret, _hmac_input(keys, with_risk=True), hashlib.sha256).digest()


def hmac_matches(keys: Sequence[TemporaryExposureKey], secret: bytes, expected: bytes) -> bool:
    return any(hmac.compare_digest(f(keys, secret), expected) for f in (tek_hmac, tek_hmac_legacy))


@dataclass(frozen=True)
class Certificate:
    """Claims of a verified certificate, as the key server uses them."""

    report_type: ReportType
    symptom_onset_interval: int | None
    tekmac: bytes


def verify_certificate(
    token: str, public_key: ec.EllipticCurvePublicKey, *, issuer: str, audience: str
) -> Certificate:
    try:
        claims = jwt.decode(
            token,
            public_key,
            algorithms=[CERTIFICATE_ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={"require": ["exp", "iat", "iss", "aud", "tekmac", "reportType"]},
        )
    except jwt.PyJWTError as e:
        raise VerificationError(f"certificate not valid: {e}") from None
    try:
        report = TEST_TYPES[claims["reportType"]]
        mac = base64.b64decode(claims["tekmac"], validate=True)
    except (KeyError, ValueError):
        raise VerificationError("certificate claims are malformed") from None
    onset = claims.get("symptomOnsetInterval")
    return Certificate(report, int(onset) if onset is not None else None, mac)


def _load_or_create_ec_key(path: Path) -> ec.EllipticCurvePrivateKey:
    pem = read_or_create(
        path,
        lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyFileError(f"{path} is not an EC private key")
    return key


def verification_dir(data_dir: Path) -> Path:
    return Layout(data_dir).exposure / "verification"


def certificate_public_key_path(data_dir: Path) -> Path:
    """Where the certificate-signing public key is published for the key server."""
    return verification_dir(data_dir) / "certificate-public-key.pem"


@dataclass(frozen=True)
class IssuedCode:
    short_code: str
    long_code: str
    short_expires_unix: int
    long_expires_unix: int


class VerificationService:
    """Codes, tokens and certificates, kept in SQLite (codes and tokens stored only as HMACs)."""

    def __init__(self, data_dir: Path, settings: ExposureSettings | None = None) -> None:
        self.data_dir = data_dir
        self.settings = settings or load_settings(data_dir)
        d = verification_dir(data_dir)
        d.mkdir(parents=True, exist_ok=True)
        self.signing_key = _load_or_create_ec_key(d / "certificate-signing-key.pem")
        pub = certificate_public_key_path(data_dir)
        if not pub.exists():
            pub.write_bytes(
                self.signing_key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        self._secret = self._load_secret(d / "code-hmac.key")
        self._lock = threading.Lock()
        self._db = sqlite3.connect(d / "verification.sqlite3", check_same_thread=False)
        self._db.executescript(
            """
            PRAGMA journal_mode=WAL;
            CREATE TABLE IF NOT EXISTS codes (
                code_hmac BLOB PRIMARY KEY, kind TEXT NOT NULL, expires_unix INTEGER NOT NULL,
                issue_id TEXT NOT NULL, test_type TEXT NOT NULL, symptom_onset TEXT,
                claimed INTEGER NOT NULL DEFAULT 0);
            CREATE TABLE IF NOT EXISTS tokens (
                token_hmac BLOB PRIMARY KEY, expires_unix INTEGER NOT NULL,
                test_type TEXT NOT NULL, symptom_onset TEXT, used INTEGER NOT NULL DEFAULT 0);
            """
        )

    @staticmethod
    def _load_secret(path: Path) -> bytes:
        return read_or_create(path, lambda: secrets.token_bytes(32))

    def _mac(self, value: str) -> bytes:
        return hmac.new(self._secret, value.encode(), hashlib.sha256).digest()

    def issue(
        self,
        test_type: str,
        symptom_onset: date | None,
        *,
        now_unix: float | None = None,
        phone_e164: str | None = None,
    ) -> IssuedCode:
        """Issue a short and a long code for one diagnosis; the long one by SMS when asked."""
        if test_type not in TEST_TYPES:
            raise VerificationError(f"test type must be one of {sorted(TEST_TYPES)}")
        now = int(now_unix if now_unix is not None else time.time())
        if symptom_onset is not None and not (
            now - 28 * 86_400 <= _date_unix(symptom_onset) <= now + 86_400
        ):
            raise VerificationError("symptom onset must be within the last 28 days")
        v = self.settings.verification
        short = "".join(secrets.choice("0123456789") for _ in range(SHORT_CODE_LENGTH))
        long = "".join(secrets.choice(LONG_CODE_ALPHABET) for _ in range(LONG_CODE_LENGTH))
        issued = IssuedCode(
            short, long, now + v.short_code_minutes * 60, now + v.long_code_hours * 3600
        )
        issue_id = secrets.token_hex(8)
        onset = symptom_onset.isoformat() if symptom_onset else None
        with self._lock, self._db:
            for code, kind, exp in (
                (short, "short", issued.short_expires_unix),
                (long, "long", issued.long_expires_unix),
            ):
                self._db.execute(
                    "INSERT INTO codes (code_hmac, kind, expires_unix, issue_id, test_type,"
                    " symptom_onset) VALUES (?, ?, ?, ?, ?, ?)",
                    (self._mac(code), kind, exp, issue_id, test_type, onset),
                )
        if phone_e164 is not None:
            from episignal.sms.outbound import send_sms

            send_sms(
                phone_e164,
                f"【疫情防控】您的暴露通知上传码：{long}，{v.long_code_hours}小时内有效。"
                "在应用中输入此码即可匿名上传您的密钥。请勿告诉他人。",
                data_dir=self.data_dir,
            )
        return issued

    def verify_code(self, code: str, *, now_unix: float | None = None) -> tuple[str, str]:
        """Claim a code (once) and return (token, test_type)."""
        now = int(now_unix if now_unix is not None else time.time())
        code = code.strip().lower()
        if len(code) not in (SHORT_CODE_LENGTH, LONG_CODE_LENGTH) or not code.isalnum():
            raise VerificationError("a code has 8 digits or 16 letters and digits")
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT expires_unix, issue_id, test_type, symptom_onset, claimed FROM codes"
                " WHERE code_hmac = ?",
                (self._mac(code),),
            ).fetchone()
            if row is None:
                raise VerificationError("unknown code")
            expires, issue_id, test_type, onset, claimed = row
            if claimed:
                raise VerificationError("this code has already been used")
            if now >= expires:
                raise VerificationError("this code has expired; ask the health authority again")
            # both codes of one issue are spent together
            self._db.execute("UPDATE codes SET claimed = 1 WHERE issue_id = ?", (issue_id,))
            token = base64.urlsafe_b64encode(secrets.token_bytes(TOKEN_BYTES)).decode()
            self._db.execute(
                "INSERT INTO tokens (token_hmac, expires_unix, test_type, symptom_onset)"
                " VALUES (?, ?, ?, ?)",
                (
                    self._mac(token),
                    now + self.settings.verification.token_minutes * 60,
                    test_type,
                    onset,
                ),
            )
        return token, test_type

    def certificate(self, token: str, ekeyhmac_b64: str, *, now_unix: float | None = None) -> str:
        """Exchange a token (once) and the keys' HMAC for an ES256 certificate."""
        now = int(now_unix if now_unix is not None else time.time())
        try:
            mac = base64.b64decode(ekeyhmac_b64, validate=True)
        except ValueError:
            raise VerificationError("ekeyhmac is not base64") from None
        if len(mac) != TEKMAC_BYTES:
            raise VerificationError(f"ekeyhmac must be {TEKMAC_BYTES} bytes (HMAC-SHA256)")
        with self._lock, self._db:
            row = self._db.execute(
                "SELECT expires_unix, test_type, symptom_onset, used FROM tokens"
                " WHERE token_hmac = ?",
                (self._mac(token),),
            ).fetchone()
            if row is None:
                raise VerificationError("unknown token")
            expires, test_type, onset, used = row
            if used:
                raise VerificationError("this token has already been used")
            if now >= expires:
                raise VerificationError("this token has expired")
            self._db.execute("UPDATE tokens SET used = 1 WHERE token_hmac = ?", (self._mac(token),))
        ks = self.settings.keyserver
        claims: dict = {
            "iss": ks.certificate_issuer,
            "aud": ks.certificate_audience,
            "iat": now,
            "nbf": now - 60,
            "exp": now + self.settings.verification.certificate_minutes * 60,
            "reportType": test_type,
            "tekmac": base64.b64encode(mac).decode(),
        }
        if onset:
            claims["symptomOnsetInterval"] = crypto.en_interval_number(
                _date_unix(date.fromisoformat(onset))
            )
        return jwt.encode(claims, self.signing_key, algorithm=CERTIFICATE_ALGORITHM)

    def close(self) -> None:
        self._db.close()


def _date_unix(d: date) -> int:
    """Midnight UTC of a date, in Unix seconds (the GAEN day convention)."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp())


# --- HTTP API -----------------------------------------------------------------------------------
class IssueRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    test_type: Literal["confirmed", "likely"]
    symptom_onset: date | None = None
    phone: str | None = Field(default=None, max_length=32, description="E.164, for the SMS")


class IssueResponse(BaseModel):
    short_code: str
    long_code: str
    short_expires_unix: int
    long_expires_unix: int


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=LONG_CODE_LENGTH + 8)


class VerifyResponse(BaseModel):
    token: str
    test_type: str


class CertificateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(max_length=128)
    ekeyhmac: str = Field(max_length=64)


class CertificateResponse(BaseModel):
    certificate: str


def issuer_api_key(data_dir: Path) -> str:
    """The health authority's API key: from the environment, else a file made on first use."""
    env = os.environ.get(ISSUER_KEY_ENV)
    if env:
        return env
    path = verification_dir(data_dir) / "issuer-api.key"
    return read_or_create(path, lambda: secrets.token_urlsafe(32).encode()).decode().strip()


def create_verification_app(data_dir: Path, settings: ExposureSettings | None = None) -> FastAPI:
    """The verification server (one service, one job)."""
    service = VerificationService(data_dir, settings)
    api_key = issuer_api_key(data_dir)
    attempts: dict[str, list[float]] = {}
    limit = service.settings.verification.max_code_attempts_per_ip_per_hour
    app = FastAPI(title="episignal exposure verification", version="1")

    def require_issuer(x_api_key: Annotated[str | None, Header()] = None) -> None:
        if x_api_key is None or not hmac.compare_digest(x_api_key, api_key):
            raise HTTPException(401, "health-authority API key missing or wrong")

    def throttle(request: Request) -> None:
        # 10^8 short codes: a per-client attempt limit keeps guessing hopeless
        host = request.client.host if request.client else "?"
        now = time.time()
        recent = [t for t in attempts.get(host, []) if now - t < 3600]
        if len(recent) >= limit:
            raise HTTPException(429, "too many attempts; try again later")
        recent.append(now)
        attempts[host] = recent

    @app.post("/api/issue", response_model=IssueResponse, dependencies=[Depends(require_issuer)])
    def issue(req: IssueRequest) -> IssueResponse:
        try:
            issued = service.issue(req.test_type, req.symptom_onset, phone_e164=req.phone)
        except VerificationError as e:
            raise HTTPException(400, str(e)) from None
        except ValueError as e:  # InvalidNumber from the SMS layer
            raise HTTPException(400, f"phone: {e}") from None
        return IssueResponse(**issued.__dict__)

    @app.post("/api/verify", response_model=VerifyResponse, dependencies=[Depends(throttle)])
    def verify(req: VerifyRequest) -> VerifyResponse:
        try:
            token, test_type = service.verify_code(req.code)
        except VerificationError as e:
            raise HTTPException(400, str(e)) from None
        return VerifyResponse(token=token, test_type=test_type)

    @app.post("/api/certificate", response_model=CertificateResponse)
    def certificate(req: CertificateRequest) -> CertificateResponse:
        try:
            return CertificateResponse(certificate=service.certificate(req.token, req.ekeyhmac))
        except VerificationError as e:
            raise HTTPException(400, str(e)) from None

    @app.get("/api/public-key")
    def public_key() -> dict:
        return {"pem": certificate_public_key_path(data_dir).read_text()}

    app.state.service = service
    return app
