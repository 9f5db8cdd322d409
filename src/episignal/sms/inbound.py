"""Mobile-originated SMS: "CXMYD" → ask for authorisation → "Y" within 5 minutes → itinerary.

Kannel's smsbox calls the web app for every MO message; replies go back through
:func:`episignal.sms.outbound.send_sms`, so long itineraries are segmented like any other SMS.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select

from episignal.card.assemble import card_text_zh
from episignal.card.policy import Policy
from episignal.card.service import CardService
from episignal.privacy.pseudonym import Pseudonymiser, mask_msisdn, normalise_msisdn
from episignal.store import audit, schema, subjects

QUERY_KEYWORD = "CXMYD"  # 查询漫游地: the service's published keyword
CONFIRM_KEYWORD = "Y"
CONFIRM_WINDOW = timedelta(minutes=5)
MO_PER_NUMBER_PER_HOUR = 20
MAX_MO_TEXT_CHARS = 160 * 10


def authorisation_prompt(policy: Policy, consent_version: str) -> str:
    text = policy.consent[consent_version].zh
    return f"您正在查询本人行程信息。回复“Y”即表示{text}，请在5分钟内回复。如非本人操作请忽略。"


HELP_TEXT = "发送CXMYD查询本人行程；收到授权提示后5分钟内回复Y。"
EXPIRED_TEXT = "授权已超时或未发起查询，请重新发送CXMYD。"


class MoHandler:
    def __init__(
        self, cards: CardService, pseudonymiser: Pseudonymiser, send: Callable[[str, str], None]
    ) -> None:
        self.cards = cards
        self.store = cards.store
        self.policy = cards.policy
        self.pseudonymiser = pseudonymiser
        self.send = send

    def _consent_version(self, now: datetime) -> str:
        publication = self.cards.live_publication()
        version = (
            self.policy.by_id(publication.policy_version)
            if publication
            else self.policy.in_force(now.date())
        )
        return version.consent_version

    def handle(self, sender: str, text: str, now: datetime) -> str:
        """Process one MO message; returns what was sent back (for the gateway's log)."""
        e164 = normalise_msisdn(sender)
        subscriber = self.pseudonymiser.of_e164(e164)
        keyword = text.strip().upper()[:MAX_MO_TEXT_CHARS]
        pending = schema.sms_pending
        with self.store.write() as conn:
            if not subjects.hit(
                conn,
                f"mo:{subscriber}",
                window=timedelta(hours=1),
                limit=MO_PER_NUMBER_PER_HOUR,
                now=now,
            ):
                return ""  # silently drop: replying would let a flood cost us SMS
        if keyword == QUERY_KEYWORD:
            with self.store.write() as conn:
                conn.execute(delete(pending).where(pending.c.subscriber == subscriber))
                conn.execute(
                    insert(pending).values(subscriber=subscriber, expires_at=now + CONFIRM_WINDOW)
                )
            reply = authorisation_prompt(self.policy, self._consent_version(now))
        elif keyword == CONFIRM_KEYWORD:
            consent_version = self._consent_version(now)
            with self.store.write() as conn:
                row = conn.execute(
                    select(pending.c.expires_at).where(pending.c.subscriber == subscriber)
                ).one_or_none()
                valid = row is not None and now < row.expires_at
                if row is not None:
                    conn.execute(delete(pending).where(pending.c.subscriber == subscriber))
                if valid:
                    subjects.record_consent(conn, subscriber, consent_version, "sms", now)
            if not valid:
                reply = EXPIRED_TEXT
            else:
                card = self.cards.lookup(subscriber, mask_msisdn(e164), now)
                reply = card_text_zh(card)
                audit.record(
                    self.store,
                    audit.AuditEntry(
                        event="sms_reply",
                        actor="sms",
                        subject=subscriber,
                        detail={
                            "colour": card.colour,
                            "places": len(card.places),
                            "countries": len(card.countries),
                        },
                    ),
                )
        else:
            reply = HELP_TEXT
        self.send("+" + e164, reply)
        return reply
