"""The phone's key schedule: a new Temporary Exposure Key per day, a new RPI every 10 minutes.

Also the diagnosis-key record shared by the phone, the key server and the export format.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from enum import IntEnum

from episignal.exposure import crypto

# Keys older than this are useless to others (incubation window) and are deleted (GAEN: 14 days).
TEK_RETENTION_DAYS = 14


class ReportType(IntEnum):
    """Why a key was published (TemporaryExposureKey.ReportType in the export schema)."""

    UNKNOWN = 0
    CONFIRMED_TEST = 1
    CONFIRMED_CLINICAL_DIAGNOSIS = 2
    SELF_REPORT = 3
    RECURSIVE = 4
    REVOKED = 5


@dataclass(frozen=True, slots=True)
class TemporaryExposureKey:
    """A TEK with the facts published alongside it (a "diagnosis key" once uploaded)."""

    key_data: bytes
    rolling_start: int
    rolling_period: int = crypto.TEK_ROLLING_PERIOD
    transmission_risk: int = 0
    report_type: ReportType = ReportType.UNKNOWN
    days_since_onset: int | None = None

    @property
    def key_b64(self) -> str:
        return base64.b64encode(self.key_data).decode("ascii")

    @property
    def end_interval(self) -> int:
        """First interval after the key's validity."""
        return self.rolling_start + self.rolling_period


@dataclass
class KeySchedule:
    """One phone's TEKs by rolling start; a key is created on first use of its day."""

    keys: dict[int, bytes] = field(default_factory=dict)

    def key_for(self, unix_seconds: float) -> TemporaryExposureKey:
        start = crypto.rolling_start_for(unix_seconds)
        tek = self.keys.get(start)
        if tek is None:
            tek = self.keys[start] = crypto.new_tek()
        return TemporaryExposureKey(tek, start)

    def advertisement(
        self, unix_seconds: float, metadata: bytes = crypto.DEFAULT_METADATA
    ) -> bytes:
        """The RPI ‖ AEM payload broadcast at this instant."""
        key = self.key_for(unix_seconds)
        return crypto.advertisement(key.key_data, crypto.en_interval_number(unix_seconds), metadata)

    def purge(self, now_unix: float, retention_days: int = TEK_RETENTION_DAYS) -> int:
        """Delete keys whose day ended more than ``retention_days`` ago; returns how many."""
        oldest = (
            crypto.rolling_start_for(now_unix) - (retention_days - 1) * crypto.TEK_ROLLING_PERIOD
        )
        old = [s for s in self.keys if s < oldest]
        for s in old:
            del self.keys[s]
        return len(old)

    def keys_to_share(
        self, now_unix: float, days: int = TEK_RETENTION_DAYS
    ) -> list[TemporaryExposureKey]:
        """The keys of the last ``days`` days, today's included (the server holds it back)."""
        newest = crypto.rolling_start_for(now_unix)
        oldest = newest - (days - 1) * crypto.TEK_ROLLING_PERIOD
        return [
            TemporaryExposureKey(tek, start)
            for start, tek in sorted(self.keys.items())
            if oldest <= start <= newest
        ]
