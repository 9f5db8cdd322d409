"""Split a text into the SMS segments a phone reassembles (3GPP TS 23.040 / 23.038).

A single SMS carries 140 octets: 160 GSM-7 septets or 70 UCS-2 code units. A longer text goes out
as a concatenated SMS whose segments each start with a 6-octet User Data Header (IEI 0x00,
8-bit reference), leaving 153 septets or 67 UCS-2 units. A character outside the BMP takes two
UCS-2 units (a surrogate pair) and a GSM-7 extension character two septets: neither is ever cut
between two segments, or the phone would show garbage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# TS 23.040 §9.2.3.24.1: concatenated short message, 8-bit reference number.
UDH_CONCAT_8BIT_IEI = 0x00
UDH_CONCAT_LEN = 6  # UDHL + IEI + IEDL + ref + total + seq
MAX_SEGMENTS = 255  # the "total" field is one octet

GSM7_SINGLE_SEPTETS = 160
GSM7_CONCAT_SEPTETS = 153  # (140 - 6) * 8 / 7, rounded down
UCS2_SINGLE_UNITS = 70
UCS2_CONCAT_UNITS = 67  # (140 - 6) / 2

# TS 23.038 §6.2.1: the GSM 7-bit default alphabet and its extension table (ESC + char).
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = set("\f^{}\\[~]|€")

Coding = Literal["gsm7", "ucs2"]


@dataclass(frozen=True)
class Segment:
    text: str
    udh: bytes  # empty for a single-part message
    coding: Coding


class MessageTooLong(ValueError):
    """The text would need more segments than a concatenated SMS can carry."""


def coding_for(text: str) -> Coding:
    """GSM-7 when every character is in the default alphabet, else UCS-2."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text):
        return "gsm7"
    return "ucs2"


def _cost(ch: str, coding: Coding) -> int:
    if coding == "gsm7":
        return 2 if ch in _GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # surrogate pair in UTF-16


def _split(text: str, coding: Coding, limit: int) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for ch in text:
        cost = _cost(ch, coding)
        if used + cost > limit:
            parts.append("".join(current))
            current, used = [], 0
        current.append(ch)
        used += cost
    if current:
        parts.append("".join(current))
    return parts


def message_length(text: str, coding: Coding | None = None) -> int:
    """Length in septets (GSM-7) or UTF-16 code units (UCS-2)."""
    coding = coding or coding_for(text)
    return sum(_cost(ch, coding) for ch in text)


def segment(text: str, reference: int) -> list[Segment]:
    """The segments to send for ``text``; ``reference`` (0–255) ties the parts of one message."""
    if not 0 <= reference <= 0xFF:
        raise ValueError("concatenation reference must fit one octet")
    coding = coding_for(text)
    single = GSM7_SINGLE_SEPTETS if coding == "gsm7" else UCS2_SINGLE_UNITS
    if message_length(text, coding) <= single:
        return [Segment(text=text, udh=b"", coding=coding)]
    limit = GSM7_CONCAT_SEPTETS if coding == "gsm7" else UCS2_CONCAT_UNITS
    parts = _split(text, coding, limit)
    if len(parts) > MAX_SEGMENTS:
        raise MessageTooLong(f"text needs {len(parts)} segments, at most {MAX_SEGMENTS} allowed")
    total = len(parts)
    return [
        Segment(
            text=part,
            udh=bytes([UDH_CONCAT_LEN - 1, UDH_CONCAT_8BIT_IEI, 3, reference, total, seq]),
            coding=coding,
        )
        for seq, part in enumerate(parts, start=1)
    ]


def reassemble(parts: list[tuple[bytes, str]]) -> str:
    """Join received (udh, text) parts in their sequence order, as a handset does."""
    if len(parts) == 1 and not parts[0][0]:
        return parts[0][1]
    ordered = sorted(parts, key=lambda p: p[0][5])
    totals = {p[0][4] for p in ordered}
    refs = {p[0][3] for p in ordered}
    if len(totals) != 1 or len(refs) != 1 or totals.pop() != len(ordered):
        raise ValueError("parts do not form one complete concatenated message")
    return "".join(text for _, text in ordered)
