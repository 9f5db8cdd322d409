"""Everything a request handler needs, built once per worker by :func:`create_app`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from episignal.card.access import OtpService, SessionCodec, load_session_key
from episignal.card.policy import Policy, load_policy
from episignal.card.service import CardService
from episignal.card.token import CardSigner, load_or_create_key
from episignal.config import Settings
from episignal.privacy.pseudonym import Pseudonymiser
from episignal.sms.inbound import MoHandler
from episignal.sms.outbound import send_sms
from episignal.store.audit import AuditBatcher
from episignal.store.engine import Store, open_store

_LIMITER_MAX_KEYS = 200_000  # memory bound of the per-worker session limiter


class WindowLimiter:
    """Per-worker fixed-window counter (card views per session per minute)."""

    def __init__(self, limit: int, window_s: float = 60.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._counts: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self._lock:
            start, count = self._counts.get(key, (now, 0))
            if now - start >= self.window_s:
                start, count = now, 0
            if count >= self.limit:
                return False
            if len(self._counts) >= _LIMITER_MAX_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.window_s}
            self._counts[key] = (start, count + 1)
            return True


@dataclass
class Services:
    data_dir: Path
    settings: Settings
    store: Store
    policy: Policy
    signer: CardSigner
    cards: CardService
    sessions: SessionCodec
    otp: OtpService
    pseudonymiser: Pseudonymiser
    audit: AuditBatcher
    mo: MoHandler
    card_limiter: WindowLimiter

    def send_sms(self, to_e164: str, text: str) -> None:
        send_sms(to_e164, text, data_dir=self.data_dir, settings=self.settings)

    @classmethod
    def build(cls, data_dir: Path, settings: Settings, store: Store | None = None) -> Services:
        store = store or open_store(data_dir, settings)
        policy = load_policy(settings.card_policy_file)
        signer = CardSigner(
            load_or_create_key(data_dir), timedelta(minutes=settings.card_token_minutes)
        )
        cards = CardService(store, policy, signer)
        key = load_session_key(data_dir, settings)
        pseudonymiser = Pseudonymiser.for_data_dir(data_dir)
        services = cls(
            data_dir=data_dir,
            settings=settings,
            store=store,
            policy=policy,
            signer=signer,
            cards=cards,
            sessions=SessionCodec(key, timedelta(days=settings.session_days)),
            otp=OtpService(store, key, settings),
            pseudonymiser=pseudonymiser,
            audit=AuditBatcher(store),
            mo=None,  # type: ignore[arg-type]
            card_limiter=WindowLimiter(settings.card_lookups_per_minute),
        )
        services.mo = MoHandler(cards, pseudonymiser, services.send_sms)
        return services
