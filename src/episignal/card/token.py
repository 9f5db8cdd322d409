"""Signed QR tokens: a compact JWS (EdDSA / Ed25519, RFC 8037) any verifier can check offline.

The public key is published as a JWK set at ``/.well-known/episignal-card-key``; the token holds
only what the card shows (masked number, places, colour), its issue time and the policy version.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from episignal.card.model import Card
from episignal.layout import Layout
from episignal.privacy.secret_file import read_or_create

TOKEN_TYPE = "episignal-card+jwt"
TOKEN_ALGORITHM = "EdDSA"  # RFC 8037
MAX_TOKEN_CHARS = 4096  # a QR code (version 40, byte mode, level L) holds 2,953 bytes; be lenient
TOKEN_CLOCK_SKEW_S = 30
REASON_CODES = (  # (code, a phrase of the English reason)
    ("expired", "expired"),
    ("altered", "altered"),
    ("unknown_key", "unknown key"),
    ("future", "future"),
    ("too_long", "too long"),
    ("not_a_card", "signed but not a card"),
)  # a verifier's clock may run a little ahead


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    path = Layout(data_dir).card_signing_key
    pem = read_or_create(  # two workers starting together agree on one key
        path,
        lambda: Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def jwks(public: Ed25519PublicKey) -> dict[str, Any]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": _b64(raw),
                "kid": key_id(public),
                "alg": TOKEN_ALGORITHM,
                "use": "sig",
            }
        ]
    }


@dataclass(frozen=True)
class Verification:
    valid: bool
    reason: str | None  # why it was refused, for the verifier to read
    age_seconds: float | None
    claims: dict[str, Any] | None

    @property
    def reason_code(self) -> str | None:
        """Stable code of the refusal, for pages to word in their own language."""
        if self.valid or self.reason is None:
            return None
        for code, marker in REASON_CODES:
            if marker in self.reason:
                return code
        return "malformed"


class CardSigner:
    def __init__(self, private: Ed25519PrivateKey, validity: timedelta) -> None:
        self._private = private
        self.public = private.public_key()
        self.kid = key_id(self.public)
        header = {"alg": TOKEN_ALGORITHM, "kid": self.kid, "typ": TOKEN_TYPE}
        self._header = _b64(json.dumps(header, separators=(",", ":")).encode())
        self.validity = validity

    def claims(self, card: Card, now: datetime) -> dict[str, Any]:
        return {
            "m": card.masked_msisdn,
            "c": card.colour,
            "p": [[p.name, p.code, p.star] for p in card.places],
            "k": [[c.name, c.code] for c in card.countries],
            "d": card.data_date.isoformat() if card.data_date else None,
            "w": card.window_days,
            "pv": card.policy_version,
            "iat": int(now.timestamp()),
            "exp": int((now + self.validity).timestamp()),
        }

    def sign(self, claims: dict[str, Any]) -> str:
        """Compact JWS built directly: the bytes any JOSE library accepts, at a fraction of the
        cost of a general-purpose encoder (this runs on every card view)."""
        payload = _b64(json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode())
        signing_input = f"{self._header}.{payload}"
        return f"{signing_input}.{_b64(self._private.sign(signing_input.encode()))}"

    def verify(self, token: str, now: datetime | None = None) -> Verification:
        now = now or datetime.now(UTC)
        if len(token) > MAX_TOKEN_CHARS:
            return Verification(False, "token too long to be a card token", None, None)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            return Verification(False, "not a card token (malformed)", None, None)
        if header.get("alg") != TOKEN_ALGORITHM or header.get("kid") != self.kid:
            return Verification(False, "signed with an unknown key or algorithm", None, None)
        try:
            claims = jwt.decode(
                token,
                self.public,
                algorithms=[TOKEN_ALGORITHM],
                options={"require": ["iat", "exp"], "verify_exp": False, "verify_iat": False},
            )
        except jwt.InvalidSignatureError:
            return Verification(
                False, "signature does not match: the token was altered", None, None
            )
        except jwt.InvalidTokenError:
            return Verification(False, "not a card token (malformed)", None, None)
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            return Verification(False, "not a card token (malformed)", None, None)
        age = now.timestamp() - iat
        if age < -TOKEN_CLOCK_SKEW_S:
            return Verification(False, "issued in the future", age, None)
        if now.timestamp() >= exp:
            return Verification(False, f"expired {int(now.timestamp() - exp)} s ago", age, None)
        return Verification(True, None, max(age, 0.0), claims)
