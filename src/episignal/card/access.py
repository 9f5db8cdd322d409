"""Who may see a card: SMS one-time codes, consent, and the signed session cookie.

Codes: 6 digits, valid 5 minutes, at most 5 tries, one resend per minute and 5 per hour per
number, a per-client-address hourly cap; only a keyed MAC of the code is stored, compared in
constant time. Sessions are stateless (HMAC-signed cookie), so any worker can serve any request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, update

from episignal.config import Settings
from episignal.layout import Layout
from episignal.privacy.secret_file import read_or_create
from episignal.store import audit, schema, subjects
from episignal.store.engine import Store

OTP_DIGITS = 6
OTP_TTL = timedelta(minutes=5)
OTP_MAX_ATTEMPTS = 5
OTP_RESEND_COOLDOWN = timedelta(seconds=60)
OTP_PER_NUMBER_PER_HOUR = 5
RATE_WINDOW = timedelta(hours=1)
SESSION_KEY_BYTES = 32


class AccessDenied(Exception):
    """A refusal the subscriber can act on; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, retry_after_s: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s


def load_session_key(data_dir: Path, settings: Settings) -> bytes:
    if settings.session_secret is not None and settings.session_secret.get_secret_value():
        return settings.session_secret.get_secret_value().encode()
    line = read_or_create(
        Layout(data_dir).session_key,
        lambda: (secrets.token_hex(SESSION_KEY_BYTES) + "\n").encode(),
    )
    return bytes.fromhex(line.decode().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    subscriber: str
    masked_msisdn: str
    expires: int  # unix seconds
    session_id: str


class SessionCodec:
    """``<payload>.<mac>`` with payload = base64url(JSON); tampering or expiry → no session."""

    def __init__(self, key: bytes, lifetime: timedelta) -> None:
        self._key = hashlib.sha256(b"episignal-session\0" + key).digest()
        self.lifetime = lifetime

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest())

    def issue(self, subscriber: str, masked: str, now: datetime) -> tuple[str, Session]:
        session = Session(
            subscriber, masked, int((now + self.lifetime).timestamp()), secrets.token_hex(8)
        )
        body = json.dumps(
            {
                "s": session.subscriber,
                "m": session.masked_msisdn,
                "e": session.expires,
                "i": session.session_id,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )
        payload = _b64(body.encode())
        return f"{payload}.{self._mac(payload)}", session

    def read(self, cookie: str | None, now: datetime) -> Session | None:
        if not cookie or len(cookie) > 1024 or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["s"]), str(data["m"]), int(data["e"]), str(data["i"]))
        except (ValueError, KeyError, TypeError):
            return None
        if session.expires <= now.timestamp():
            return None
        return session


class OtpService:
    def __init__(self, store: Store, key: bytes, settings: Settings) -> None:
        self.store = store
        self._key = hashlib.sha256(b"episignal-otp\0" + key).digest()
        self.per_client_per_hour = settings.otp_per_client_per_hour

    def _mac(self, subscriber: str, code: str) -> str:
        return hmac.new(self._key, f"{subscriber}:{code}".encode(), hashlib.sha256).hexdigest()

    def issue(self, subscriber: str, client: str, now: datetime) -> str:
        """A new code for ``subscriber``; raises AccessDenied (429) when a limit is reached."""
        code = f"{secrets.randbelow(10**OTP_DIGITS):0{OTP_DIGITS}d}"
        o = schema.otp
        with self.store.write() as conn:
            client_key = "otp-client:" + hashlib.sha256(client.encode()).hexdigest()[:32]
            if not subjects.hit(
                conn, client_key, window=RATE_WINDOW, limit=self.per_client_per_hour, now=now
            ):
                raise AccessDenied(
                    "too many code requests from this network; try later",
                    429,
                    int(RATE_WINDOW.total_seconds()),
                )
            row = conn.execute(select(o).where(o.c.subscriber == subscriber)).one_or_none()
            window_start, sent = now, 0
            if row is not None:
                if row.last_sent_at and now - row.last_sent_at < OTP_RESEND_COOLDOWN:
                    wait = OTP_RESEND_COOLDOWN - (now - row.last_sent_at)
                    raise AccessDenied(
                        "a code was just sent; wait before asking again",
                        429,
                        int(wait.total_seconds()) + 1,
                    )
                if row.window_started_at and now - row.window_started_at < RATE_WINDOW:
                    window_start, sent = row.window_started_at, row.sent_in_window
                if sent >= OTP_PER_NUMBER_PER_HOUR:
                    wait = RATE_WINDOW - (now - window_start)
                    raise AccessDenied(
                        "too many codes for this number; try again later",
                        429,
                        int(wait.total_seconds()) + 1,
                    )
            values = {
                "code_mac": self._mac(subscriber, code),
                "expires_at": now + OTP_TTL,
                "attempts": 0,
                "last_sent_at": now,
                "window_started_at": window_start,
                "sent_in_window": sent + 1,
            }
            if row is None:
                conn.execute(insert(o).values(subscriber=subscriber, **values))
            else:
                conn.execute(update(o).where(o.c.subscriber == subscriber).values(**values))
            audit.append(
                conn, [audit.AuditEntry(event="otp_sent", actor="web", subject=subscriber)]
            )
        return code

    def withdraw(self, subscriber: str) -> None:
        """The SMS could not be sent: forget the code and let the subscriber ask again."""
        o = schema.otp
        with self.store.write() as conn:
            conn.execute(
                update(o)
                .where(o.c.subscriber == subscriber)
                .values(
                    code_mac=None,
                    expires_at=None,
                    last_sent_at=None,
                    sent_in_window=o.c.sent_in_window - 1,
                )
            )

    def check(self, subscriber: str, code: str, now: datetime) -> None:
        """Accept the code once, or raise AccessDenied with the reason."""
        o = schema.otp
        with self.store.write() as conn:
            row = conn.execute(select(o).where(o.c.subscriber == subscriber)).one_or_none()
            if row is None or row.code_mac is None:
                raise AccessDenied("no code was requested for this number", 400)
            if row.expires_at is None or now >= row.expires_at:
                raise AccessDenied("the code has expired; request a new one", 400)
            if row.attempts >= OTP_MAX_ATTEMPTS:
                raise AccessDenied("too many wrong codes; request a new one", 429)
            ok = hmac.compare_digest(row.code_mac, self._mac(subscriber, code))
            conn.execute(
                update(o)
                .where(o.c.subscriber == subscriber)
                .values(
                    attempts=o.c.attempts + 1,
                    **({"code_mac": None, "expires_at": None} if ok else {}),
                )
            )
        if not ok:
            left = OTP_MAX_ATTEMPTS - row.attempts - 1
            raise AccessDenied(
                f"wrong code; {left} tries left" if left else "wrong code; request a new one", 400
            )


def now_utc() -> datetime:
    return datetime.now(UTC)
