"""Request and response bodies of the JSON API (the card itself is episignal.card.model.Card)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from episignal.card.token import MAX_TOKEN_CHARS

Msisdn = Annotated[
    str,
    StringConstraints(min_length=5, max_length=32, pattern=r"^[+0-9 ()\-.]+$"),
    Field(description='the subscriber\'s number: "+8613800138000" or "138 0013 8000"'),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OtpRequest(Strict):
    msisdn: Msisdn


class OtpSent(BaseModel):
    sent: bool
    expires_in_s: int
    resend_after_s: int


class SessionRequest(Strict):
    msisdn: Msisdn
    code: Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
    consent_version: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class SessionOpened(BaseModel):
    masked_msisdn: str
    expires_at: datetime


class ConsentText(BaseModel):
    version: str
    zh: str
    en: str
    window_days: int


class CsrfToken(BaseModel):
    token: str


class VerifyRequest(Strict):
    token: Annotated[str, StringConstraints(min_length=1, max_length=MAX_TOKEN_CHARS)]


class VerifiedPlace(BaseModel):
    name: str
    code: str
    star: bool


class VerifiedCard(BaseModel):
    masked_msisdn: str
    colour: str
    places: list[VerifiedPlace]
    countries: list[dict[str, str]]
    data_date: date | None
    window_days: int | None
    policy_version: str
    issued_at: datetime
    expires_at: datetime


class VerifyResult(BaseModel):
    valid: bool
    reason: str | None = Field(description="why the token was refused")
    reason_code: (
        Literal[
            "expired", "altered", "unknown_key", "future", "too_long", "not_a_card", "malformed"
        ]
        | None
    ) = Field(default=None, description="the refusal as a stable code")
    age_seconds: float | None = Field(description="how long ago the token was issued")
    card: VerifiedCard | None


class CloseContactIn(Strict):
    msisdn: Msisdn
    source: Literal["exposure_notification", "contact_screening"]
    exposure_date: date
    consent: bool = Field(
        description="the person consented (exposure notification) or the "
        "health authority screened them under its legal basis"
    )


class CloseContactOut(BaseModel):
    status: Literal["flagged"]
    colour: Literal["orange"]
    orange_until: date
    sms_sent: bool


class CaseIn(Strict):
    msisdn: Msisdn
    status: Literal["confirmed", "suspected", "cleared"]
    since: date | None = None


class CaseOut(BaseModel):
    status: str


class RiskAreaIn(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^\d{6}$")] = Field(
        description="county- or prefecture-level division code"
    )
    level: Literal["low", "medium", "high"]
    starts_at: datetime
    ends_at: datetime | None = None


class RiskAreaOut(BaseModel):
    id: int
    code: str
    city_code: str
    name: str
    level: str
    starts_at: datetime
    ends_at: datetime | None


class Problem(BaseModel):
    detail: Any
