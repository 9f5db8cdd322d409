"""Where each dataset lives inside a data directory: the one place that names these paths."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def pseudonym_key(self) -> Path:
        return self.root / "pseudonym.key"

    @property
    def cells(self) -> Path:
        """Cell registry (versioned Parquet dataset)."""
        return self.root / "cells"

    @property
    def events(self) -> Path:
        """Canonical pseudonymised events, partitioned by local_date and carrier."""
        return self.root / "events"

    @property
    def quarantine(self) -> Path:
        """Rejected input rows with their reason (numbers masked)."""
        return self.root / "quarantine"

    @property
    def ingest_log(self) -> Path:
        return self.root / "ingest-log.jsonl"

    @property
    def stays(self) -> Path:
        """Per-day stays (engine output), partitioned by local_date."""
        return self.root / "stays"

    @property
    def spans(self) -> Path:
        """Per-day first/last record per place (for the official span rule)."""
        return self.root / "spans"

    @property
    def homes(self) -> Path:
        return self.root / "homes"

    @property
    def truth(self) -> Path:
        """Simulator ground truth (only present for simulated data)."""
        return self.root / "truth"

    @property
    def raw(self) -> Path:
        """Simulated carrier exports, as a carrier would hand them over."""
        return self.root / "raw"

    @property
    def raw_cells(self) -> Path:
        """Simulated cells file (contract columns), next to the carrier exports."""
        return self.raw / "cells.csv"

    @property
    def serving_db(self) -> Path:
        return self.root / "serving.sqlite3"

    @property
    def sms_outbox(self) -> Path:
        return self.root / "sms-outbox.jsonl"

    @property
    def card_signing_key(self) -> Path:
        """Ed25519 private key that signs the card's QR tokens (PEM, owner-only)."""
        return self.root / "card-signing.key"

    @property
    def session_key(self) -> Path:
        """HMAC key for card-service session cookies, shared by every web worker."""
        return self.root / "session.key"

    @property
    def exposure(self) -> Path:
        """Exposure notification: key server, verification server, exports and phone state."""
        return self.root / "exposure"

    def ensure(self) -> Layout:
        self.root.mkdir(parents=True, exist_ok=True)
        return self
