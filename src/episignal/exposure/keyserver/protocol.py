"""The publish API contract: request and response bodies, limits, padding and chaff.

The shape follows the public exposure-notifications-server v1 publish API, so apps written for
it can upload here. Padding and chaff are part of the protocol: every upload body has the same
size, real or fake, and every response too, so an observer of encrypted traffic cannot tell who
uploaded keys or how many.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from episignal.exposure import crypto
from episignal.exposure.keys import TemporaryExposureKey

# --- Limits of the publish protocol -----------------------------------------------------------
MAX_KEYS_PER_PUBLISH = 30  # GAEN publish API: at most 30 keys per upload (21 days + revisions)
MAX_TRANSMISSION_RISK = 8  # v1 transmissionRisk range 0..8
MAX_KEY_AGE_DAYS = 14  # keys whose validity ended more than 14 days ago are refused
PUBLISH_BODY_BYTES = 8192  # every publish body (real or chaff) is padded to exactly this size
MAX_PUBLISH_BODY_BYTES = 16384  # larger bodies are refused before parsing
PUBLISH_RESPONSE_BYTES = 4096  # every publish response is padded to exactly this size
MAX_CERTIFICATE_CHARS = 4096  # an ES256 JWT with our claims is well under 1 KB
CHAFF_HEADER = "X-Chaff"  # "1" on fake uploads, "0" on real ones: same size either way


class ExposureKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(max_length=32, description="base64 of the 16-byte TEK")
    rollingStartNumber: int = Field(ge=0, le=2**32 - 1)
    rollingPeriod: int = Field(default=crypto.TEK_ROLLING_PERIOD)
    transmissionRisk: int = Field(default=0)


class PublishRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    temporaryExposureKeys: list[ExposureKeyIn] = Field(max_length=MAX_KEYS_PER_PUBLISH)
    healthAuthorityID: str = Field(max_length=64)
    verificationPayload: str = Field(max_length=MAX_CERTIFICATE_CHARS)
    hmacKey: str = Field(max_length=128)
    padding: str = Field(default="", max_length=PUBLISH_BODY_BYTES)


class KeyErrorOut(BaseModel):
    index: int
    error: str


class PublishResponse(BaseModel):
    insertedExposures: int = 0
    keyErrors: list[KeyErrorOut] = Field(default_factory=list)
    error: str = ""
    padding: str = ""


def _pad_json(body: dict, size: int, field: str = "padding") -> bytes:
    """Serialise ``body`` with a padding field filling it to exactly ``size`` bytes."""
    body = {**body, field: ""}
    bare = len(json.dumps(body, separators=(",", ":")).encode())
    if bare > size:
        raise ValueError(f"body of {bare} bytes does not fit the padded size {size}")
    body[field] = "=" * (size - bare)  # JSON-safe filler; content is random elsewhere in TLS
    out = json.dumps(body, separators=(",", ":")).encode()
    assert len(out) == size
    return out


def padded_publish_body(
    *,
    keys: Sequence[TemporaryExposureKey],
    certificate: str,
    hmac_key: bytes,
    health_authority_id: str,
) -> bytes:
    """A real upload, padded to ``PUBLISH_BODY_BYTES``."""
    body = {
        "temporaryExposureKeys": [
            {
                "key": k.key_b64,
                "rollingStartNumber": k.rolling_start,
                "rollingPeriod": k.rolling_period,
                "transmissionRisk": k.transmission_risk,
            }
            for k in keys
        ],
        "healthAuthorityID": health_authority_id,
        "verificationPayload": certificate,
        "hmacKey": base64.b64encode(hmac_key).decode(),
    }
    return _pad_json(body, PUBLISH_BODY_BYTES)


def chaff_publish_body() -> bytes:
    """A fake upload with the same size and shape as a real one (random content)."""
    start = crypto.rolling_start_for(secrets.randbelow(2**31))
    keys = [
        TemporaryExposureKey(crypto.new_tek(), start - i * crypto.TEK_ROLLING_PERIOD)
        for i in range(MAX_KEY_AGE_DAYS)
    ]
    fake_jwt = ".".join(
        base64.urlsafe_b64encode(secrets.token_bytes(n)).decode().rstrip("=") for n in (27, 180, 64)
    )
    return padded_publish_body(
        keys=keys,
        certificate=fake_jwt,
        hmac_key=secrets.token_bytes(32),
        health_authority_id="chaff",
    )


def padded_response(resp: PublishResponse) -> bytes:
    return _pad_json(resp.model_dump(), PUBLISH_RESPONSE_BYTES)
