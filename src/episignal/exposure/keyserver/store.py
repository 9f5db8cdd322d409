"""Key server storage: diagnosis keys and the export files built from them (SQLite)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from episignal.exposure.keys import ReportType, TemporaryExposureKey


@dataclass(frozen=True, slots=True)
class StoredKey:
    key: TemporaryExposureKey
    received_unix: int
    available_unix: int  # held back until the key has expired on the phone


class KeyStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.executescript(
            """
            PRAGMA journal_mode=WAL;
            PRAGMA synchronous=NORMAL;
            CREATE TABLE IF NOT EXISTS exposures (
                key BLOB PRIMARY KEY, rolling_start INTEGER NOT NULL,
                rolling_period INTEGER NOT NULL, transmission_risk INTEGER NOT NULL,
                report_type INTEGER NOT NULL, days_since_onset INTEGER,
                received_unix INTEGER NOT NULL, available_unix INTEGER NOT NULL);
            CREATE INDEX IF NOT EXISTS exposures_available ON exposures (available_unix);
            CREATE TABLE IF NOT EXISTS export_files (
                name TEXT PRIMARY KEY, batch_start_unix INTEGER NOT NULL,
                batch_end_unix INTEGER NOT NULL, keys INTEGER NOT NULL);
            """
        )

    def insert(self, rows: Sequence[StoredKey]) -> list[bool]:
        """Store keys; per row, False when the key was already known (nothing changes)."""
        out = []
        with self._lock, self._db:
            for r in rows:
                k = r.key
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO exposures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        k.key_data,
                        k.rolling_start,
                        k.rolling_period,
                        k.transmission_risk,
                        int(k.report_type),
                        k.days_since_onset,
                        r.received_unix,
                        r.available_unix,
                    ),
                )
                out.append(cur.rowcount == 1)
        return out

    def available_between(self, start_unix: int, end_unix: int) -> list[TemporaryExposureKey]:
        with self._lock:
            rows = self._db.execute(
                "SELECT key, rolling_start, rolling_period, transmission_risk, report_type,"
                " days_since_onset FROM exposures"
                " WHERE available_unix >= ? AND available_unix < ? ORDER BY key",
                (start_unix, end_unix),
            ).fetchall()
        return [
            TemporaryExposureKey(bytes(r[0]), r[1], r[2], r[3], ReportType(r[4]), r[5])
            for r in rows
        ]

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM exposures").fetchone()[0]

    def first_available_unix(self) -> int | None:
        with self._lock:
            return self._db.execute("SELECT min(available_unix) FROM exposures").fetchone()[0]

    def delete_keys_ended_before(self, interval: int) -> int:
        with self._lock, self._db:
            return self._db.execute(
                "DELETE FROM exposures WHERE rolling_start + rolling_period < ?", (interval,)
            ).rowcount

    def record_export(self, name: str, start_unix: int, end_unix: int, keys: int) -> None:
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO export_files VALUES (?, ?, ?, ?)",
                (name, start_unix, end_unix, keys),
            )

    def last_export_end(self) -> int | None:
        with self._lock:
            return self._db.execute("SELECT max(batch_end_unix) FROM export_files").fetchone()[0]

    def export_names(self) -> list[str]:
        with self._lock:
            return [
                r[0]
                for r in self._db.execute(
                    "SELECT name FROM export_files ORDER BY batch_end_unix, name"
                ).fetchall()
            ]

    def delete_exports_ended_before(self, unix: int) -> list[str]:
        with self._lock, self._db:
            names = [
                r[0]
                for r in self._db.execute(
                    "SELECT name FROM export_files WHERE batch_end_unix < ?", (unix,)
                ).fetchall()
            ]
            self._db.execute("DELETE FROM export_files WHERE batch_end_unix < ?", (unix,))
        return names

    def close(self) -> None:
        self._db.close()
