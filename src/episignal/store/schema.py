"""Tables of the serving store (SQLAlchemy Core). Subscribers appear only as 32-hex pseudonyms.

Times are UTC: stored naive in DateTime columns (SQLite has no time zones), returned aware.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect

SCHEMA_VERSION = 1
PSEUDONYM_LEN = 32


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, naive UTC on disk."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # SQLite raw text
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)


metadata = MetaData()

store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row (id = 1): which publication readers see, and a revision counter for risk areas so
# every worker notices a declaration on its next request.
serving_state = Table(
    "serving_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("publication_id", Integer, nullable=True),
    Column("risk_revision", BigInteger, nullable=False, default=0),
)

publication = Table(
    "publication",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("data_date", Date, nullable=False),
    Column("window_days", Integer, nullable=False),
    Column("min_stay_hours", Float, nullable=False),
    Column("policy_version", String(32), nullable=False),
    Column("content_digest", String(64), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("subscriber_count", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # loading | live | retired
    Column("created_at", UTCDateTime, nullable=False),
    Column("published_at", UTCDateTime, nullable=True),
)

itinerary_place = Table(
    "itinerary_place",
    metadata,
    Column("publication_id", Integer, nullable=False),
    Column("subscriber", String(PSEUDONYM_LEN), nullable=False),
    Column("place_code", String(6), nullable=False),
    Column("place_name", String(64), nullable=False),
    Column("place_kind", String(8), nullable=False),
    Column("first_arrival", UTCDateTime, nullable=False),
    Column("last_departure", UTCDateTime, nullable=False),
    Index("ix_itinerary_place_lookup", "publication_id", "subscriber"),
)

risk_area = Table(
    "risk_area",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("division_code", String(6), nullable=False),  # county or city as declared
    Column("city_code", String(6), nullable=False, index=True),  # its prefecture-level place
    Column("division_name", String(64), nullable=False),
    Column("level", String(8), nullable=False),  # low | medium | high
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("declared_by", String(64), nullable=False),
    Column("declared_at", UTCDateTime, nullable=False),
)

# Health-authority flags about one subscriber: confirmed / suspected case, close contact.
subject_flag = Table(
    "subject_flag",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber", String(PSEUDONYM_LEN), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # case | close_contact
    Column("detail", String(32), nullable=False),  # confirmed | suspected | <contact source>
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=True),
    Column("reported_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

consent = Table(
    "consent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("subscriber", String(PSEUDONYM_LEN), nullable=False, index=True),
    Column("consent_version", String(32), nullable=False),
    Column("channel", String(8), nullable=False),  # web | sms
    Column("given_at", UTCDateTime, nullable=False),
)

# One-time codes keyed by pseudonym: the code itself is never stored, only its keyed MAC.
otp = Table(
    "otp",
    metadata,
    Column("subscriber", String(PSEUDONYM_LEN), primary_key=True),
    Column("code_mac", String(64), nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_sent_at", UTCDateTime, nullable=True),
    Column("window_started_at", UTCDateTime, nullable=True),
    Column("sent_in_window", Integer, nullable=False, default=0),
)

# SMS channel: a subscriber who texted CXMYD and has not yet replied "Y".
sms_pending = Table(
    "sms_pending",
    metadata,
    Column("subscriber", String(PSEUDONYM_LEN), primary_key=True),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Fixed-window counters shared by every worker (e.g. SMS codes per client address per hour).
rate_counter = Table(
    "rate_counter",
    metadata,
    Column("key", String(96), primary_key=True),
    Column("window_started_at", UTCDateTime, nullable=False),
    Column("count", Integer, nullable=False),
)

api_client = Table(
    "api_client",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("scopes", Text, nullable=False),  # space-separated
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts_utc", String(32), nullable=False),  # ISO text: hashed exactly as stored
    Column("event", String(32), nullable=False),
    Column("actor", String(64), nullable=False),
    Column("subject", String(PSEUDONYM_LEN), nullable=True),
    Column("detail", Text, nullable=False),  # canonical JSON, never a raw number
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
)
