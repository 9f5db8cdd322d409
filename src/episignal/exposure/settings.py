"""Exposure-notification parameters: one typed model, defaults here, overrides from TOML.

``<data>/exposure/exposure.toml`` may override any field, e.g.::

    [risk]
    daily_threshold_weighted_minutes = 20
    [keyserver]
    export_period_hours = 4

Protocol limits (30 keys per upload, 16-byte keys, 144 intervals) are not settings: they are
constants next to the protocol they belong to.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from episignal.exposure.keys import ReportType
from episignal.layout import Layout

SETTINGS_FILE = "exposure.toml"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskSettings(_Frozen):
    """GAEN v2 (exposure windows) risk scoring."""

    # Attenuation bucket edges (dB): immediate ≤ 55 < near ≤ 63 < medium ≤ 70 < other.
    attenuation_thresholds_db: tuple[int, int, int] = (55, 63, 70)
    # Weight of a minute spent in each bucket (immediate, near, medium, other).
    attenuation_weights: tuple[float, float, float, float] = (1.5, 1.0, 0.5, 0.0)
    report_type_weights: dict[ReportType, float] = Field(
        default_factory=lambda: {
            ReportType.CONFIRMED_TEST: 1.0,
            ReportType.CONFIRMED_CLINICAL_DIAGNOSIS: 1.0,
            ReportType.SELF_REPORT: 0.8,
            ReportType.RECURSIVE: 0.0,
            ReportType.REVOKED: 0.0,
            ReportType.UNKNOWN: 1.0,
        }
    )
    # Infectiousness by days since symptom onset: "high" around onset, "standard" further out,
    # "none" outside the window. Missing days fall back to ``infectiousness_when_unknown``.
    high_infectiousness_days: tuple[int, int] = (-2, 5)
    standard_infectiousness_days: tuple[int, int] = (-14, 14)
    infectiousness_weight_high: float = 1.0
    infectiousness_weight_standard: float = 0.6
    infectiousness_when_unknown: str = Field(default="high", pattern="^(none|standard|high)$")
    # A window scoring less than this (weighted minutes) is noise and ignored.
    min_window_score_weighted_minutes: float = 1.0
    # Notify when one day's windows sum to at least this many weighted minutes.
    daily_threshold_weighted_minutes: float = 15.0

    @model_validator(mode="after")
    def _ordered(self) -> RiskSettings:
        a, b, c = self.attenuation_thresholds_db
        if not a <= b <= c:
            raise ValueError("attenuation thresholds must be non-decreasing")
        return self


class PhoneSettings(_Frozen):
    scan_retention_days: int = Field(default=21, ge=1)  # GAEN: scans deleted after 21 days
    tek_retention_days: int = Field(default=14, ge=1)
    clock_drift_minutes: int = Field(default=120, ge=0)  # ±2 h between the two phones
    window_max_minutes: int = Field(default=30, ge=1)  # exposure windows last at most 30 min
    scan_interval_seconds: int = Field(default=300, ge=1)  # nominal BLE scan period
    tx_power_dbm: int = Field(default=8, ge=-128, le=127)  # advertised in the metadata
    rx_calibration_db: int = 0  # this model's RSSI correction (added to measured RSSI)


class KeyServerSettings(_Frozen):
    region: str = Field(default="460", pattern=r"^[A-Za-z0-9_.]{1,16}$")  # China's MCC
    signing_key_id: str = Field(default="460", pattern=r"^[A-Za-z0-9_.]+$")
    signing_key_version: str = Field(default="v1", pattern=r"^[A-Za-z0-9_]+$")
    export_period_hours: int = Field(default=6, ge=1, le=24)
    min_keys_per_batch: int = Field(default=1000, ge=0)  # padded with random keys up to this
    max_keys_per_file: int = Field(default=500_000, ge=1)
    retention_days: int = Field(default=14, ge=1)  # keys and export files on the server
    certificate_issuer: str = "episignal-verification"
    certificate_audience: str = "episignal-keyserver"


class VerificationSettings(_Frozen):
    short_code_minutes: int = Field(default=15, ge=1)  # 8-character code sent by SMS
    long_code_hours: int = Field(default=24, ge=1)  # 16-character code for web or paper
    token_minutes: int = Field(default=60, ge=1)  # between code check and certificate
    certificate_minutes: int = Field(default=15, ge=1)  # between certificate and upload
    max_code_attempts_per_ip_per_hour: int = Field(default=30, ge=1)


class ExposureSettings(_Frozen):
    risk: RiskSettings = RiskSettings()
    phone: PhoneSettings = PhoneSettings()
    keyserver: KeyServerSettings = KeyServerSettings()
    verification: VerificationSettings = VerificationSettings()


def settings_path(data_dir: Path) -> Path:
    return Layout(data_dir).exposure / SETTINGS_FILE


def load_settings(data_dir: Path | None = None, path: Path | None = None) -> ExposureSettings:
    """Defaults, overridden by the TOML file of the data directory when there is one."""
    path = path or (settings_path(data_dir) if data_dir is not None else None)
    if path is None or not path.is_file():
        return ExposureSettings()
    with path.open("rb") as f:
        return ExposureSettings.model_validate(tomllib.load(f))
