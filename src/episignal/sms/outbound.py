"""Outgoing SMS: the one function every component calls to text a subscriber.

Two backends, chosen by ``EPISIGNAL_SMS``:

* ``outbox`` (default, the embedded demo): one JSON line ``{"to", "text", "ts"}`` per message
  appended to ``<data>/sms-outbox.jsonl``; the demo prints it, tests read it.
* ``kannel``: the carrier's SMS gateway. The text is split into concatenated segments here
  (see :mod:`episignal.sms.segments`) and each segment goes to smsbox's sendsms interface with
  its User Data Header, so the handset reassembles exactly what we meant to send.

Numbers never reach a log line unmasked.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, quote_from_bytes

import httpx

from episignal.config import Settings, get_settings
from episignal.layout import Layout
from episignal.privacy.pseudonym import mask_msisdn, normalise_msisdn
from episignal.sms.segments import Segment, segment

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO; a sendsms URL holds the number and the gateway password.
logging.getLogger("httpx").setLevel(logging.WARNING)

# Kannel sendsms: coding 0 = 7-bit default alphabet, 2 = UCS-2 (Kannel user guide, "sendsms").
_KANNEL_CODING = {"gsm7": "0", "ucs2": "2"}
_KANNEL_TIMEOUT_S = 10.0
MAX_SMS_TEXT_CHARS = 2000  # far above any reply we compose; guards the gateway against misuse

_clients: dict[str, httpx.Client] = {}
_clients_lock = threading.Lock()


class SmsDeliveryError(RuntimeError):
    """The gateway refused or could not be reached; the message was not sent."""


def _e164_plus(to_e164: str) -> str:
    return "+" + normalise_msisdn(to_e164)


def send_sms(to_e164: str, text: str, *, data_dir: Path, settings: Settings | None = None) -> None:
    """Send ``text`` to one subscriber (``+86…`` or bare E.164 digits).

    Raises ``InvalidNumber`` for a number that is not E.164, ``ValueError`` for an empty or
    oversized text and ``SmsDeliveryError`` when the gateway does not accept a segment.
    """
    settings = settings or get_settings()
    to = _e164_plus(to_e164)
    if not text or len(text) > MAX_SMS_TEXT_CHARS:
        raise ValueError(f"SMS text must have 1 to {MAX_SMS_TEXT_CHARS} characters")
    if settings.sms == "kannel":
        _send_kannel(to, text, settings)
    else:
        _append_outbox(Layout(data_dir).sms_outbox, to, text)
    log.info("sms sent to %s (%d chars) via %s", mask_msisdn(to[1:]), len(text), settings.sms)


def _append_outbox(path: Path, to: str, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    line = json.dumps({"to": to, "text": text, "ts": ts}, ensure_ascii=False) + "\n"
    # The outbox holds numbers (it stands in for the phone): owner-only, one writer at a time.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line.encode("utf-8"))
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _client(url: str) -> httpx.Client:
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = httpx.Client(timeout=_KANNEL_TIMEOUT_S, trust_env=False)
            _clients[url] = client
        return client


def kannel_query(to: str, seg: Segment, settings: Settings) -> str:
    """The sendsms query string for one segment (UDH as raw octets, text as UTF-8)."""
    params = [
        ("username", quote(settings.kannel_username, safe="")),
        ("password", quote(settings.kannel_password.get_secret_value(), safe="")),
        ("from", quote(settings.sms_service_number, safe="")),
        ("to", quote(to, safe="")),
        ("text", quote(seg.text, safe="")),
        ("charset", "UTF-8"),
        ("coding", _KANNEL_CODING[seg.coding]),
    ]
    if seg.udh:
        params.append(("udh", quote_from_bytes(seg.udh, safe="")))
    return "&".join(f"{k}={v}" for k, v in params)


def _send_kannel(to: str, text: str, settings: Settings) -> None:
    client = _client(settings.kannel_sendsms_url)
    for seg in segment(text, reference=secrets.randbelow(256)):
        url = f"{settings.kannel_sendsms_url}?{kannel_query(to, seg, settings)}"
        try:
            response = client.get(url)
        except httpx.HTTPError as exc:
            raise SmsDeliveryError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if response.status_code not in (200, 202):
            raise SmsDeliveryError(
                f"SMS gateway refused the message: HTTP {response.status_code} "
                f"{response.text.strip()[:80]}"
            )
