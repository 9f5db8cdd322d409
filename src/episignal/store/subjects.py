"""Per-subscriber state keyed by pseudonym: health-authority flags, consents, one-time codes,
SMS authorisations, and the shared rate counters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from episignal.store import audit, schema
from episignal.store.engine import Store

CASE_STATUSES = ("confirmed", "suspected")
CONTACT_SOURCES = ("exposure_notification", "contact_screening")


@dataclass(frozen=True)
class Flag:
    kind: str  # case | close_contact
    detail: str
    valid_from: datetime
    valid_until: datetime | None

    def active_at(self, t: datetime) -> bool:
        return self.valid_from <= t and (self.valid_until is None or t < self.valid_until)


def flags_of(conn: Connection, subscriber: str) -> list[Flag]:
    f = schema.subject_flag
    rows = conn.execute(
        select(f.c.kind, f.c.detail, f.c.valid_from, f.c.valid_until).where(
            f.c.subscriber == subscriber
        )
    )
    return [Flag(r.kind, r.detail, r.valid_from, r.valid_until) for r in rows]


def report_case(
    store: Store, subscriber: str, *, status: str, since: datetime, actor: str, now: datetime
) -> None:
    """Confirmed / suspected replace any earlier case status; "cleared" ends it."""
    f = schema.subject_flag
    with store.write() as conn:
        conn.execute(
            update(f)
            .where(f.c.subscriber == subscriber, f.c.kind == "case", f.c.valid_until.is_(None))
            .values(valid_until=now)
        )
        if status in CASE_STATUSES:
            conn.execute(
                insert(f).values(
                    subscriber=subscriber,
                    kind="case",
                    detail=status,
                    valid_from=min(since, now),
                    valid_until=None,
                    reported_by=actor,
                    created_at=now,
                )
            )
        audit.append(
            conn,
            [
                audit.AuditEntry(
                    event="case", actor=actor, subject=subscriber, detail={"status": status}
                )
            ],
        )


def flag_close_contact(
    store: Store,
    subscriber: str,
    *,
    source: str,
    exposure: datetime,
    until: datetime,
    actor: str,
    now: datetime,
) -> None:
    f = schema.subject_flag
    with store.write() as conn:
        conn.execute(
            insert(f).values(
                subscriber=subscriber,
                kind="close_contact",
                detail=source,
                valid_from=min(exposure, now),
                valid_until=until,
                reported_by=actor,
                created_at=now,
            )
        )
        audit.append(
            conn,
            [
                audit.AuditEntry(
                    event="close_contact",
                    actor=actor,
                    subject=subscriber,
                    detail={"source": source, "until": until.isoformat()},
                )
            ],
        )


def record_consent(
    conn: Connection, subscriber: str, version: str, channel: str, now: datetime
) -> None:
    conn.execute(
        insert(schema.consent).values(
            subscriber=subscriber, consent_version=version, channel=channel, given_at=now
        )
    )


def consents_of(conn: Connection, subscriber: str) -> list[tuple[str, str, datetime]]:
    c = schema.consent
    rows = conn.execute(
        select(c.c.consent_version, c.c.channel, c.c.given_at)
        .where(c.c.subscriber == subscriber)
        .order_by(c.c.id)
    )
    return [(r.consent_version, r.channel, r.given_at) for r in rows]


# --- rate counters (fixed windows, shared by every worker) ------------------------------------


def hit(conn: Connection, key: str, *, window: timedelta, limit: int, now: datetime) -> bool:
    """Count one event under ``key``; false when the window's ``limit`` is already reached."""
    rc = schema.rate_counter
    row = conn.execute(
        select(rc.c.window_started_at, rc.c.count).where(rc.c.key == key)
    ).one_or_none()
    if row is None:
        conn.execute(insert(rc).values(key=key, window_started_at=now, count=1))
        return True
    if now - row.window_started_at >= window:
        conn.execute(update(rc).where(rc.c.key == key).values(window_started_at=now, count=1))
        return True
    if row.count >= limit:
        return False
    conn.execute(update(rc).where(rc.c.key == key).values(count=rc.c.count + 1))
    return True


def purge_expired(store: Store, now: datetime, *, keep: timedelta = timedelta(days=1)) -> None:
    """Housekeeping: old counters, spent codes and stale SMS authorisations."""
    with store.write() as conn:
        conn.execute(
            delete(schema.rate_counter).where(schema.rate_counter.c.window_started_at < now - keep)
        )
        conn.execute(delete(schema.sms_pending).where(schema.sms_pending.c.expires_at < now))
        conn.execute(delete(schema.otp).where(schema.otp.c.last_sent_at < now - keep))
