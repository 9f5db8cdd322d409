"""Card policy: versioned configuration with effective dates (window, threshold, marker, colours).

The packaged ``policy.toml`` replays the real service's history; ``EPISIGNAL_CARD_POLICY_FILE``
points at another file. Nothing here knows a date of its own: what changed when is data.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import tomllib
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Colour = Literal["green", "yellow", "orange", "red"]
COLOURS: tuple[Colour, ...] = ("green", "yellow", "orange", "red")


class RiskMarker(StrEnum):
    STAR = "star"  # "*" after the city, with the footnote
    RED = "red"  # the city in red font
    NOTE = "note"  # a bracket note after the city
    NONE = "none"  # not shown


class Condition(StrEnum):
    """What a colour rule may test; each is computed by :mod:`episignal.card.assemble`."""

    CASE_CONFIRMED = "case_confirmed"
    CASE_SUSPECTED = "case_suspected"
    CLOSE_CONTACT = "close_contact"
    STAY_ABROAD = "stay_abroad"
    # a listed stay overlapped a period when the city contained a high-risk area
    STAY_IN_HIGH_RISK_CITY = "stay_in_high_risk_city"
    STAY_IN_MEDIUM_OR_HIGH_RISK_CITY = "stay_in_medium_or_high_risk_city"
    STAY_IN_NAMED_PLACE = "stay_in_named_place"  # a place listed in the rule's `places`


class ColourRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    colour: Colour
    any_of: list[Condition] = Field(min_length=1)
    places: list[Annotated[str, StringConstraints(pattern=r"^(\d{6}|[A-Z]{2})$")]] = []

    @model_validator(mode="after")
    def _places_only_when_named(self) -> ColourRule:
        if (Condition.STAY_IN_NAMED_PLACE in self.any_of) != bool(self.places):
            raise ValueError("`places` goes with the stay_in_named_place condition, and only then")
        return self


class PolicyVersion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=32)
    effective_from: dt.date
    window_days: int = Field(ge=1, le=30)
    min_stay_hours: float = Field(gt=0, le=24)
    stay_rule: str = "dwell"  # passed to the engine's itineraries_for_date(rule=...)
    risk_marker: RiskMarker
    close_contact_days: int = Field(ge=1, le=60)
    consent_version: str
    service_open: bool = True
    colour_rule: list[ColourRule] = []  # first match wins; green when none matches


class Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    zh: str
    en: str


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    colours: dict[Colour, Text]
    consent: dict[str, Text]
    version: list[PolicyVersion] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Policy:
        dates = [v.effective_from for v in self.version]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("policy versions must have strictly increasing effective dates")
        ids = [v.id for v in self.version]
        if len(set(ids)) != len(ids):
            raise ValueError("policy version ids must be unique")
        for v in self.version:
            if v.consent_version not in self.consent:
                raise ValueError(f"version {v.id} names unknown consent text {v.consent_version}")
        missing = set(COLOURS) - set(self.colours)
        if missing:
            raise ValueError(f"colour meanings missing for {sorted(missing)}")
        return self

    def in_force(self, day: dt.date) -> PolicyVersion:
        """The version that applies to data of ``day`` (the first one before its start)."""
        current = self.version[0]
        for v in self.version:
            if v.effective_from <= day:
                current = v
        return current

    def by_id(self, version_id: str) -> PolicyVersion:
        for v in self.version:
            if v.id == version_id:
                return v
        raise KeyError(version_id)


class PolicyError(ValueError):
    """The policy file cannot be read or is inconsistent; the message says where."""


def parse_policy(text: str, source: str = "policy") -> Policy:
    try:
        return Policy.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise PolicyError(f"{source}: {exc}") from exc


@lru_cache(maxsize=8)
def _load_cached(path: str, mtime_ns: int) -> Policy:
    return parse_policy(Path(path).read_text(encoding="utf-8"), path)


@lru_cache(maxsize=1)
def _packaged() -> Policy:
    ref = importlib.resources.files("episignal.card") / "policy.toml"
    return parse_policy(ref.read_text(encoding="utf-8"), "packaged policy.toml")


def load_policy(path: Path | None = None) -> Policy:
    """The policy from ``path``, else the packaged default (cached until the file changes)."""
    if path is None:
        return _packaged()
    try:
        return _load_cached(str(path), path.stat().st_mtime_ns)
    except OSError as exc:
        raise PolicyError(f"cannot read card policy {path}: {exc.strerror}") from exc
