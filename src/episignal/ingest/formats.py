"""Feed formats: how each carrier's export (and the canonical file) maps to canonical fields.

Each format turns a table of raw lines into the same parsed columns, all nullable, so that one
validation step (``validate.py``) decides what is accepted and why the rest is quarantined:
``field`` (the raw number field, for masking), ``e164``, ``ts_utc_s``, ``cell_id``, ``event_type``
and ``fields_ok``. The layouts are specified in docs/data-contracts.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from episignal.ingest.events import EVENT_TYPES, LOCAL_UTC_OFFSET_S

CHINA_COUNTRY_CODE = "86"


@ibis.udf.scalar.builtin(signature=((dt.string, dt.string), dt.Timestamp()))
def try_strptime(s, fmt):  # DuckDB: NULL instead of an error
    ...


def e164_digits(raw: ir.StringValue) -> ir.StringValue:
    """E.164 digits of a number field, or NULL; the SQL twin of pseudonym.normalise_msisdn."""
    s = raw.re_replace(r"[\s\-().]", "")
    s = ibis.cases(
        (s.startswith("+"), s.substr(1)),
        (s.startswith("00"), s.substr(2)),
        (s.re_search(r"^1[3-9][0-9]{9}$"), CHINA_COUNTRY_CODE + s),
        else_=s,
    )
    valid = s.re_search(r"^[1-9][0-9]{7,14}$") & (
        ~s.startswith(CHINA_COUNTRY_CODE) | s.re_search(r"^861[3-9][0-9]{9}$")
    )
    return valid.ifelse(s, ibis.null(dt.string))


def iso8601_epoch_s(raw: ir.StringValue) -> ir.IntegerValue:
    """Seconds since the epoch of an ISO 8601 time WITH offset; NULL without one or if invalid."""
    has_offset = raw.re_search(
        r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)$"
    )
    ts = raw.try_cast(dt.Timestamp(timezone="UTC"))
    return has_offset.ifelse(ts.epoch_seconds(), ibis.null(dt.int64))


def _decimal(raw: ir.StringValue) -> ir.IntegerValue:
    return raw.re_search(r"^[0-9]{1,10}$").ifelse(raw.try_cast(dt.int64), ibis.null(dt.int64))


def _cell(plmn: ir.StringValue, area: ir.IntegerValue, cell: ir.IntegerValue) -> ir.StringValue:
    ok = plmn.re_search(r"^[0-9]{5,6}$") & area.notnull() & cell.notnull()
    return ok.ifelse(
        plmn + "-" + area.cast(dt.string) + "-" + cell.cast(dt.string), ibis.null(dt.string)
    )


def _event(raw: ir.StringValue, mapping: dict[str, str]) -> ir.StringValue:
    return raw.substitute(mapping, else_=ibis.null(dt.string))


@dataclass(frozen=True)
class FeedFormat:
    name: str
    delimiter: str
    n_fields: int
    header: str | None  # the exact first line of a file, skipped when present
    carrier: str | None  # PLMN of the exporting carrier (None: from the cells file)
    parse_fields: Callable[[ir.ArrayValue], dict[str, ir.Value]]

    def parse(self, lines: ir.Table) -> ir.Table:
        """lines(file, line_no, line) → parsed columns (see module doc)."""
        f = lines.line.split(self.delimiter)
        n = f.length()
        fields_ok = n == self.n_fields
        parsed = self.parse_fields(f)
        # The number field is kept even on a wrong field count: quarantine needs it for masking.
        return lines.mutate(
            fields_ok=fields_ok,
            field=f[0],
            **{
                k: fields_ok.ifelse(v, ibis.null(v.type()))
                for k, v in parsed.items()
                if k != "field"
            },
        )


# carrier-a: 46000, pipe-delimited, no header, local time, numeric event codes
_A_EVENTS = {str(i + 1): e for i, e in enumerate(EVENT_TYPES)}


def _parse_a(f: ir.ArrayValue) -> dict[str, ir.Value]:
    national = f[0]
    local = try_strptime(f[1], "%Y%m%d%H%M%S")
    plmn = (f[5] == "").ifelse("46000", f[5])
    return {
        "field": national,
        "e164": national.re_search(r"^1[3-9][0-9]{9}$").ifelse(
            CHINA_COUNTRY_CODE + national, ibis.null(dt.string)
        ),
        "ts_utc_s": f[1]
        .re_search(r"^[0-9]{14}$")
        .ifelse(local.epoch_seconds() - LOCAL_UTC_OFFSET_S, ibis.null(dt.int64)),
        "cell_id": _cell(plmn, _decimal(f[2]), _decimal(f[3])),
        "event_type": _event(f[4], _A_EVENTS),
    }


# carrier-b: 46001, CSV with header, epoch milliseconds (UTC), 28-bit ECI, upper-case event names
_B_EVENTS = {
    "ATTACH": "attach",
    "DETACH": "detach",
    "PLU": "periodic_update",
    "LU": "location_update",
    "HO": "handover",
    "MOC": "call",
    "MTC": "call",
    "SMS": "sms",
    "DATA": "data",
}
_ECI_CELLS = 256  # E-UTRAN cell identity = eNB id (20 bits) · 256 + cell (8 bits), 3GPP TS 36.413


def _parse_b(f: ir.ArrayValue) -> dict[str, ir.Value]:
    ms = f[1].re_search(r"^[0-9]{10,14}$").ifelse(f[1].try_cast(dt.int64), ibis.null(dt.int64))
    eci = _decimal(f[2])
    plmn = (f[4] == "").ifelse("46001", f[4])
    return {
        "field": f[0],
        "e164": e164_digits("+" + f[0]),
        "ts_utc_s": ms // 1000,
        "cell_id": _cell(plmn, eci // _ECI_CELLS, eci % _ECI_CELLS),
        "event_type": _event(f[3], _B_EVENTS),
    }


# carrier-c: 46011, TSV with header, ISO 8601 with offset, ECGI "MCC-MNC-AREA-CELL"
def _parse_c(f: ir.ArrayValue) -> dict[str, ir.Value]:
    ecgi = f[2].split("-")
    ok = (
        (ecgi.length() == 4) & ecgi[0].re_search(r"^[0-9]{3}$") & ecgi[1].re_search(r"^[0-9]{2,3}$")
    )
    cell = _cell(ecgi[0] + ecgi[1], _decimal(ecgi[2]), _decimal(ecgi[3]))
    return {
        "field": f[0],
        "e164": f[0].startswith("+").ifelse(e164_digits(f[0]), ibis.null(dt.string)),
        "ts_utc_s": iso8601_epoch_s(f[1]),
        "cell_id": ok.ifelse(cell, ibis.null(dt.string)),
        "event_type": _event(f[3], {e: e for e in EVENT_TYPES}),
    }


def _parse_canonical(f: ir.ArrayValue) -> dict[str, ir.Value]:
    cell = (
        f[2].re_search(r"^[0-9]{5,6}-[0-9]{1,10}-[0-9]{1,10}$").ifelse(f[2], ibis.null(dt.string))
    )
    return {
        "field": f[0],
        "e164": e164_digits(f[0].startswith("+").ifelse(f[0], "+" + f[0])),
        "ts_utc_s": iso8601_epoch_s(f[1]),
        "cell_id": cell,
        "event_type": _event(f[3], {e: e for e in EVENT_TYPES}),
    }


FORMATS: dict[str, FeedFormat] = {
    "carrier-a": FeedFormat("carrier-a", "|", 6, None, "46000", _parse_a),
    "carrier-b": FeedFormat(
        "carrier-b", ",", 5, "MSISDN,EVENT_TIME_MS,ECI,EVENT,VPLMN", "46001", _parse_b
    ),
    "carrier-c": FeedFormat("carrier-c", "\t", 4, "user\ttime\tecgi\ttype", "46011", _parse_c),
    "canonical": FeedFormat(
        "canonical", ",", 4, "msisdn,ts,cell_id,event_type", None, _parse_canonical
    ),
}
