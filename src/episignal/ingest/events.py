"""Canonical event vocabulary and the quarantine reasons, shared by every feed format."""

from __future__ import annotations

import enum

EVENT_TYPES = (
    "attach",
    "detach",
    "periodic_update",
    "location_update",
    "handover",
    "call",
    "sms",
    "data",
)

LOCAL_UTC_OFFSET_S = 8 * 3600  # Asia/Shanghai: UTC+8, no daylight saving since 1991
CLOCK_SKEW_TOLERANCE_S = 300  # an event up to 5 minutes ahead of our clock is still accepted
EARLIEST_EVENT_UTC_S = 946_684_800  # 2000-01-01: anything older is a broken clock, not data
# A cell id is opaque: carriers name cells in many ways ("46000-4201-17", an ECGI in hex, a
# vendor's name), so cells files and canonical feeds may use any 1-64 characters except
# whitespace, control characters, commas and quotes (the canonical CSV is unquoted). The carrier
# formats build the PLMN-AREA-CELL form ("46000-4201-17") from their own fields.
CELL_ID_PATTERN = r'[^\x00-\x20,"\x7f]{1,64}'


class Reason(enum.StrEnum):
    """Why a row was quarantined; the first failing check wins, in this order."""

    FIELD_COUNT = "field_count"
    BAD_NUMBER = "bad_number"
    BAD_TIME = "bad_time"
    BAD_CELL_ID = "bad_cell_id"
    BAD_EVENT_TYPE = "bad_event_type"
    UNKNOWN_CELL = "unknown_cell"
    FUTURE_TIME = "future_time"
