"""The card lookup: one read transaction, cached immutable parts, a freshly signed token.

Per request: the serving state row (live publication, risk revision), the subscriber's stays in
the live publication, and their flags. Publication metadata is immutable per id and the risk
registry is cached per revision, so a worker re-reads it only after a declaration.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from episignal.card.assemble import PublicationInfo, Stay, assemble
from episignal.card.model import Card
from episignal.card.policy import Policy
from episignal.card.token import CardSigner
from episignal.store import risk, schema
from episignal.store.engine import Store
from episignal.store.risk import RiskArea
from episignal.store.subjects import flags_of

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

    def lookup(self, subscriber: str, masked_msisdn: str, now: datetime | None = None) -> Card:
        now = now or datetime.now(UTC)
        with self.store.read() as conn:
            pub_id, revision = conn.execute(_STATE_QUERY).one()
            publication = self._publication(conn, pub_id)
            stays: list[Stay] = []
            if publication is not None:
                stays = [
                    Stay(*row)
                    for row in conn.execute(
                        _STAYS_QUERY.where(
                            _ip.c.publication_id == pub_id, _ip.c.subscriber == subscriber
                        )
                    )
                ]
            flags = flags_of(conn, subscriber)
            areas = self._risk_areas(conn, revision)
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
        return card.model_copy(
            update={
                "qr_token": self.signer.sign(claims),
                "qr_expires_at": datetime.fromtimestamp(claims["exp"], UTC),
            }
        )
