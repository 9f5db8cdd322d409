"""The card lookup: one read transaction, cached immutable parts, a freshly signed token.

Per request: the serving state row (live publication, risk revision), the subscriber's stays in
the live publication, and their flags. Publication metadata is immutable per id and the risk
registry is cached per revision, so a worker re-reads it only after a declaration.
"""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from episignal.card.assemble import PublicationInfo, Stay, assemble
from episignal.card.model import Card
from episignal.card.policy import Policy
from episignal.card.token import CardSigner
from episignal.store import risk, schema
from episignal.store.engine import Store, StoreUnavailable
from episignal.store.risk import RiskArea
from episignal.store.subjects import Flag

LOOKUP_TIMEOUT_MS = 2000  # a card lookup slower than this is a store problem: answer 503
_st = schema.serving_state
_pub = schema.publication
_ip = schema.itinerary_place
_STATE_QUERY = select(_st.c.publication_id, _st.c.risk_revision).where(_st.c.id == 1)
_STAYS_QUERY = select(
    _ip.c.place_code,
    _ip.c.place_name,
    _ip.c.place_kind,
    _ip.c.first_arrival,
    _ip.c.last_departure,
)


class CardService:
    def __init__(self, store: Store, policy: Policy, signer: CardSigner) -> None:
        self.store = store
        self.policy = policy
        self.signer = signer
        self._publications: dict[int, PublicationInfo] = {}
        self._areas: tuple[int, list[RiskArea]] = (-1, [])
        self._lock = threading.Lock()
        self._local = threading.local()
        self._lookup_sql = lookup_sql(store.engine.dialect.paramstyle)

    def live_publication(self) -> PublicationInfo | None:
        with self.store.read() as conn:
            pub_id, _ = conn.execute(_STATE_QUERY).one()
            return self._publication(conn, pub_id)

    def _publication(self, conn: Connection, pub_id: int | None) -> PublicationInfo | None:
        if pub_id is None:
            return None
        info = self._publications.get(pub_id)
        if info is None:
            r = conn.execute(select(_pub).where(_pub.c.id == pub_id)).one()
            info = PublicationInfo(
                r.id,
                r.data_date,
                r.window_days,
                r.min_stay_hours,
                r.policy_version,
                r.published_at or r.created_at,
            )
            self._publications[pub_id] = info
        return info

    def _risk_areas(self, conn: Connection, revision: int) -> list[RiskArea]:
        cached_rev, areas = self._areas
        if cached_rev != revision:
            areas = risk.load_all(conn)
            with self._lock:
                self._areas = (revision, areas)
        return areas

    def risk_areas(self) -> list[RiskArea]:
        with self.store.read() as conn:
            _, revision = conn.execute(_STATE_QUERY).one()
            return self._risk_areas(conn, revision)

    def _fetch(self, subscriber: str) -> list[tuple[Any, ...]]:
        # Each thread keeps one pooled connection checked out: a card view costs one statement,
        # not a pool checkout and reset as well.
        raw = getattr(self._local, "conn", None)
        if raw is None:
            raw = self.store.engine.raw_connection()
            if self.store.is_postgres:  # lookups run on the event loop: never wait long
                cur = raw.cursor()
                cur.execute(f"SET statement_timeout = {LOOKUP_TIMEOUT_MS}")
                cur.close()
                raw.commit()
            self._local.conn = raw
        cur = raw.cursor()
        try:
            cur.execute(self._lookup_sql, (subscriber, subscriber))
            rows = cur.fetchall()
        finally:
            cur.close()
        raw.commit()  # end the read snapshot (a no-op for SQLite in autocommit)
        return rows  # type: ignore[no-any-return]

    def _drop_connection(self) -> None:
        raw = getattr(self._local, "conn", None)
        self._local.conn = None
        if raw is not None:
            with contextlib.suppress(Exception):  # already broken: nothing left to release
                raw.invalidate()

    def _read(self, subscriber: str) -> tuple[int | None, int, list[Stay], list[Flag]]:
        """One statement, one round trip: live publication, risk revision, stays, flags.

        The stays are joined to the serving state inside the same statement, so a publish that
        flips the live id concurrently can never mix two days into one answer.
        """
        try:
            rows = self._fetch(subscriber)
        except Exception:
            self._drop_connection()  # e.g. the database restarted: reconnect once
            try:
                rows = self._fetch(subscriber)
            except Exception as exc:
                self._drop_connection()
                raise StoreUnavailable(f"card lookup failed: {type(exc).__name__}") from exc
        pub_id: int | None = None
        revision = 0
        stays: list[Stay] = []
        flags: list[Flag] = []
        for part, a, b, c1, c2, c3, t1, t2 in rows:
            if part == 0:
                pub_id, revision = a, b
            elif part == 1:
                stays.append(Stay(c1, c2, c3, _utc(t1), _utc(t2)))
            else:
                flags.append(Flag(c1, c2, _utc(t1), _utc(t2) if t2 is not None else None))
        return pub_id, revision, stays, flags

    def lookup(self, subscriber: str, masked_msisdn: str, now: datetime | None = None) -> Card:
        now = now or datetime.now(UTC)
        pub_id, revision, stays, flags = self._read(subscriber)
        publication = None
        areas: list[RiskArea] = self._areas[1]
        if (pub_id is not None and pub_id not in self._publications) or self._areas[0] != revision:
            with self.store.read() as conn:
                publication = self._publication(conn, pub_id)
                areas = self._risk_areas(conn, revision)
        elif pub_id is not None:
            publication = self._publications[pub_id]
        card = assemble(
            policy=self.policy,
            publication=publication,
            masked_msisdn=masked_msisdn,
            stays=stays,
            flags=flags,
            areas=areas,
            now=now,
            qr_token="",
            qr_expires_at=now,
        )
        claims = self.signer.claims(card, now)
        card.qr_token = self.signer.sign(claims)
        card.qr_expires_at = datetime.fromtimestamp(claims["exp"], UTC)
        return card


def _utc(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back the stored text
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC)


def lookup_sql(paramstyle: str) -> str:
    p = "?" if paramstyle == "qmark" else "%s"
    ts = "CAST(NULL AS TIMESTAMP)"
    txt = "CAST(NULL AS VARCHAR(64))"
    num = "CAST(NULL AS BIGINT)"
    return f"""
SELECT 0, CAST(s.publication_id AS BIGINT), CAST(s.risk_revision AS BIGINT), {txt}, {txt}, {txt},
       {ts}, {ts}
  FROM serving_state s WHERE s.id = 1
UNION ALL
SELECT 1, {num}, {num}, ip.place_code, ip.place_name, ip.place_kind, ip.first_arrival,
       ip.last_departure
  FROM itinerary_place ip JOIN serving_state s ON s.id = 1 AND ip.publication_id = s.publication_id
 WHERE ip.subscriber = {p}
UNION ALL
SELECT 2, {num}, {num}, f.kind, f.detail, {txt}, f.valid_from, f.valid_until
  FROM subject_flag f WHERE f.subscriber = {p}
"""
