"""Feed formats: how each carrier's export (and the canonical file) maps to canonical fields.

Each format turns a table of raw lines into the same parsed columns, all nullable, so that one
validation step (``run._classify``) decides what is accepted and why the rest is quarantined:
``e164``, ``ts_utc_s``, ``cell_id``, ``event_type_id`` (index into ``EVENT_TYPES``) and
``fields_ok``; ``number_field`` splits the raw number field (for masking) off a quarantined line.
The layouts are specified in docs/data-contracts.md.

Speed matters here (every input row goes through this, ingest targets ≥ 1 M rows/s): a line is
split once, each field becomes its own column, and a value used by several checks is computed in
an earlier stage (``stage``) instead of being inlined into every use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from episignal.ingest.events import CELL_ID_PATTERN, EVENT_TYPES, LOCAL_UTC_OFFSET_S

CHINA_COUNTRY_CODE = "86"
# E.164 digits after an optional "+" or international prefix "00": 8 to 15 digits, no leading 0,
# and when the country code is 86, a Chinese mobile number (pseudonym.normalise_msisdn's rules,
# folded into one pattern so that each row is matched once).
_E164_RE = r"^(?:\+|00)?(861[3-9][0-9]{9}|(?:[1-79][0-9]|8[0-57-9])[0-9]{6,13})$"
# National form of a Chinese mobile number, and its E.164 form with "+" (nearly every feed's).
# GLOB rather than regex (about half the cost per row): character classes, the whole string.
_CN_MOBILE_GLOB = "1[3-9]" + "[0-9]" * 9
_PLUS_CN_MOBILE_GLOB = "+" + CHINA_COUNTRY_CODE + _CN_MOBILE_GLOB
_SEPARATORS_RE = r"[\s\-().]"  # what people put between digit groups


@ibis.udf.scalar.builtin(signature=((dt.string, dt.string), dt.Timestamp()))
def try_strptime(s, fmt):  # DuckDB: NULL instead of an error
    ...


@ibis.udf.scalar.builtin(
    name="try_strptime", signature=((dt.string, dt.string), dt.Timestamp(timezone="UTC"))
)
def try_strptime_tz(s, fmt):  # the same function: given %z, DuckDB returns a TIMESTAMPTZ
    ...


@ibis.udf.scalar.builtin(name="~~~", signature=((dt.string, dt.string), dt.boolean))
def glob(s, pattern):  # DuckDB's GLOB operator (s GLOB pattern): whole string, [...] classes
    ...


def stage(t: ir.Table) -> ir.Table:
    """A projection boundary: Ibis would otherwise inline each column into every use of it."""
    return t.view()


def strip_separators(raw: ir.StringValue) -> ir.StringValue:
    # Most fields have no separator: a match is about half the cost of a replace, and a "+86"
    # mobile number (which has none) is recognised by a GLOB, cheaper still.
    general = raw.re_search(_SEPARATORS_RE).ifelse(raw.re_replace(_SEPARATORS_RE, ""), raw)
    return glob(raw, _PLUS_CN_MOBILE_GLOB).ifelse(raw, general)


def e164_of_stripped(s: ir.StringValue) -> ir.StringValue:
    """E.164 digits of a number field without separators, or NULL (see ``e164_digits``)."""
    # The pattern admits one reading of the prefix, so cutting it off is enough (no extraction).
    digits = ibis.cases(
        (s.startswith("+"), s.substr(1)), (s.startswith("00"), s.substr(2)), else_=s
    )
    return ibis.cases(
        (glob(s, _CN_MOBILE_GLOB), CHINA_COUNTRY_CODE + s),
        (glob(s, _PLUS_CN_MOBILE_GLOB), s.substr(1)),  # matches _E164_RE too: a fast path
        (s.re_search(_E164_RE), digits),
        else_=ibis.null(dt.string),
    )


def e164_digits(raw: ir.StringValue) -> ir.StringValue:
    """E.164 digits of a number field, or NULL; the SQL twin of pseudonym.normalise_msisdn."""
    return e164_of_stripped(strip_separators(raw))


_ISO8601_WITH_OFFSET_RE = r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d(:?\d\d)?)$"


def iso8601_epoch_s(raw: ir.StringValue) -> ir.IntegerValue:
    """Seconds since the epoch of an ISO 8601 time WITH offset; NULL without one or if invalid."""
    ts = raw.try_cast(dt.Timestamp(timezone="UTC"))
    return raw.re_search(_ISO8601_WITH_OFFSET_RE).ifelse(ts.epoch_seconds(), ibis.null(dt.int64))


# The shape nearly every feed writes ("2020-01-18T21:13:29+08:00"): fixed width, so a LIKE (much
# cheaper than the regex) and a fixed-format parse (cheaper than the general cast) suffice.
_ISO8601_FIXED_SHAPE = "____-__-__T__:__:_____:__"
_ISO8601_FIXED_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_US_PER_S = 1_000_000


@ibis.udf.scalar.builtin(signature=((dt.Timestamp(timezone="UTC"),), dt.int64))
def epoch_us(ts):  # DuckDB: microseconds since the epoch of an instant (no time zone conversion)
    ...


def iso8601_epoch_s_fast(raw: ir.StringValue) -> ir.IntegerValue:
    """``iso8601_epoch_s`` with a fast path for the fixed-width form; the same result for any text.

    Only a value the fixed-format parser accepts takes the fast path; everything else (other
    shapes, and fixed-width values it rejects such as 24:00:00) goes through the general parser.
    COALESCE evaluates the general parser only for the rows still NULL.
    """
    # strptime skips whitespace before the year (" 020-01-20T…" would be the year 20, where the
    # general parser finds no time): the fixed shape also starts with a digit, which two
    # comparisons tell ("0" <= text < ":").
    shaped = raw.like(_ISO8601_FIXED_SHAPE) & (raw >= "0") & (raw < ":")
    fast = shaped.ifelse(
        epoch_us(try_strptime_tz(raw, _ISO8601_FIXED_FORMAT)) // _US_PER_S, ibis.null(dt.int64)
    )
    return fast.coalesce(iso8601_epoch_s(raw))


def _decimal(raw: ir.StringValue) -> ir.IntegerValue:
    return raw.re_search(r"^[0-9]{1,10}$").ifelse(raw.try_cast(dt.int64), ibis.null(dt.int64))


def _cell(plmn: ir.StringValue, area: ir.IntegerValue, cell: ir.IntegerValue) -> ir.StringValue:
    ok = plmn.re_search(r"^[0-9]{5,6}$") & area.notnull() & cell.notnull()
    return ok.ifelse(
        plmn + "-" + area.cast(dt.string) + "-" + cell.cast(dt.string), ibis.null(dt.string)
    )


def _event(raw: ir.StringValue, mapping: dict[str, str]) -> ir.IntegerValue:
    """Index into EVENT_TYPES of a layout's event name (a small integer is cheap to keep)."""
    return raw.substitute(
        {k: EVENT_TYPES.index(v) for k, v in mapping.items()}, else_=ibis.null(dt.int8)
    )


@dataclass(frozen=True)
class FeedFormat:
    name: str
    delimiter: str
    n_fields: int
    header: str | None  # the exact first line of a file, skipped when present
    carrier: str | None  # PLMN of the exporting carrier (None: from the cells file)
    # fields table (f0 … f{n_fields-1}, NULL where a line is short) → with the parsed columns
    parse_fields: Callable[[ir.Table], ir.Table]
    # Is a parsed cell_id that is not in the registry well-formed (unknown_cell) or not
    # (bad_cell_id)? Asked only for cells missing from the registry, whose ids are all well-formed.
    cell_id_ok: Callable[[ir.StringValue], ir.BooleanValue] = lambda c: c.notnull()
    # Standard CSV (the canonical file): fields may be in double quotes, and a header names the
    # columns, in any order, with any others beside them (see ``for_first_line``).
    standard_csv: bool = False
    # Where the fields ``parse_fields`` reads as f0, f1, … are in a line (None: in that order).
    positions: tuple[int, ...] | None = None

    def for_first_line(self, line: str) -> tuple[FeedFormat, bool]:
        """This format as it applies to a file starting with ``line``, and whether that is a header.

        For standard CSV the header is found by its names (quoted or not, any case, a BOM before
        it) and gives the positions of the fields; a first line without all of the format's names
        is a row like the others.
        """
        if self.header is None:
            return self, False
        if line == self.header:
            return self, True
        if not self.standard_csv:
            return self, False
        names = [_unquoted(n) for n in line.removeprefix(_BOM).split(self.delimiter)]
        wanted = self.header.split(self.delimiter)
        if any(names.count(n) != 1 for n in wanted):
            return self, False
        positions = tuple(names.index(n) for n in wanted)
        return replace(self, n_fields=len(names), positions=positions), True

    def _text(self, line: ir.StringValue) -> ir.StringValue:
        # No valid field holds a quote or a delimiter, so dropping every quote unquotes the fields
        # of a valid row; a quoted delimiter splits its field in two, and the row is quarantined.
        if not self.standard_csv:
            return line
        return line.contains('"').ifelse(line.replace('"', ""), line)

    def _fields(self) -> range | tuple[int, ...]:
        return self.positions or range(self.n_fields)

    def number_field(self, line: ir.StringValue) -> ir.StringValue:
        """The raw number field of a line, as ``parse`` splits it off (quotes removed)."""
        return self._text(line).split(self.delimiter)[self._fields()[0]]

    def parse(self, lines: ir.Table) -> ir.Table:
        """lines(file_id, line) → lines + parsed columns (see module doc).

        Parsed values are meaningless when ``fields_ok`` is false; classification checks it first.
        """
        split = stage(lines.mutate(_f=self._text(lines.line).split(self.delimiter)))
        fields = stage(
            split.mutate(
                fields_ok=split._f.length() == self.n_fields,
                **{f"f{i}": split._f[p] for i, p in enumerate(self._fields())},
            ).drop("_f")
        )
        parsed = self.parse_fields(fields)
        return parsed.select(
            *lines.columns, "fields_ok", "e164", "ts_utc_s", "cell_id", "event_type_id"
        )


_BOM = "\ufeff"


def _unquoted(name: str) -> str:
    return name.strip().removeprefix('"').removesuffix('"').strip().lower()


# carrier-a: 46000, pipe-delimited, no header, local time, numeric event codes
_A_EVENTS = {str(i + 1): e for i, e in enumerate(EVENT_TYPES)}


def _parse_a(f: ir.Table) -> ir.Table:
    local = try_strptime(f.f1, "%Y%m%d%H%M%S")
    plmn = (f.f5 == "").ifelse("46000", f.f5)
    return f.mutate(
        e164=glob(f.f0, _CN_MOBILE_GLOB).ifelse(CHINA_COUNTRY_CODE + f.f0, ibis.null(dt.string)),
        ts_utc_s=f.f1.re_search(r"^[0-9]{14}$").ifelse(
            local.epoch_seconds() - LOCAL_UTC_OFFSET_S, ibis.null(dt.int64)
        ),
        cell_id=_cell(plmn, _decimal(f.f2), _decimal(f.f3)),
        event_type_id=_event(f.f4, _A_EVENTS),
    )


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


def _parse_b(f: ir.Table) -> ir.Table:
    f = stage(
        f.mutate(
            _number=strip_separators("+" + f.f0),
            _ms=f.f1.re_search(r"^[0-9]{10,14}$").ifelse(
                f.f1.try_cast(dt.int64), ibis.null(dt.int64)
            ),
            _eci=_decimal(f.f2),
        )
    )
    plmn = (f.f4 == "").ifelse("46001", f.f4)
    return f.mutate(
        e164=e164_of_stripped(f._number),
        ts_utc_s=f._ms // 1000,
        cell_id=_cell(plmn, f._eci // _ECI_CELLS, f._eci % _ECI_CELLS),
        event_type_id=_event(f.f3, _B_EVENTS),
    )


# carrier-c: 46011, TSV with header, ISO 8601 with offset, ECGI "MCC-MNC-AREA-CELL"
def _parse_c(f: ir.Table) -> ir.Table:
    f = stage(f.mutate(_number=strip_separators(f.f0), _ecgi=f.f2.split("-")))
    ecgi = f._ecgi
    ok = (
        (ecgi.length() == 4) & ecgi[0].re_search(r"^[0-9]{3}$") & ecgi[1].re_search(r"^[0-9]{2,3}$")
    )
    cell = _cell(ecgi[0] + ecgi[1], _decimal(ecgi[2]), _decimal(ecgi[3]))
    return f.mutate(
        e164=f.f0.startswith("+").ifelse(e164_of_stripped(f._number), ibis.null(dt.string)),
        ts_utc_s=iso8601_epoch_s_fast(f.f1),
        cell_id=ok.ifelse(cell, ibis.null(dt.string)),
        event_type_id=_event(f.f3, {e: e for e in EVENT_TYPES}),
    )


# E.164 digits after an optional "+": the canonical number field once separators are removed.
_E164_BODY_RE = r"(?:861[3-9][0-9]{9}|(?:[1-79][0-9]|8[0-57-9])[0-9]{6,13})"
_PLAIN_E164_RE = rf"^\+?{_E164_BODY_RE}$"
_PLAIN_E164_GROUP_RE = rf"^\+?({_E164_BODY_RE})$"
_CANONICAL_CELL_ID_RE = rf"^{CELL_ID_PATTERN}$"


def canonical_e164(raw: ir.StringValue) -> ir.IntegerValue:
    """E.164 digits (as an integer) of a canonical number field, "+" optional; NULL if invalid.

    The same result as ``e164_digits`` of the field with a "+" put in front when it has none
    (the canonical contract: E.164 digits, leading "+" allowed), written so that the common case
    is cheap: a "+86" mobile number (the first alternative of _PLAIN_E164_RE, with its "+") needs
    one GLOB and a cast (the cast drops the "+"), any other field that is already plain digits
    one regex and a cast. The rest (separators) goes through one expression without repeated
    parts, so DuckDB evaluates it for those rows only instead of hoisting parts of it out for
    every row.
    """
    stripped = raw.re_replace(_SEPARATORS_RE, "")
    general = stripped.re_extract(_PLAIN_E164_GROUP_RE, 1).try_cast(dt.int64)  # "" → NULL
    plain = raw.re_search(_PLAIN_E164_RE).ifelse(raw.cast(dt.int64), general)
    return glob(raw, _PLUS_CN_MOBILE_GLOB).ifelse(raw.cast(dt.int64), plain)


def _parse_canonical(f: ir.Table) -> ir.Table:
    return f.mutate(
        e164=canonical_e164(f.f0),
        ts_utc_s=iso8601_epoch_s_fast(f.f1),
        # Checked against the registry first; the shape only where the registry has no such cell.
        cell_id=f.f2,
        event_type_id=_event(f.f3, {e: e for e in EVENT_TYPES}),
    )


def _canonical_cell_id_ok(cell_id: ir.StringValue) -> ir.BooleanValue:
    return cell_id.re_search(_CANONICAL_CELL_ID_RE)


FORMATS: dict[str, FeedFormat] = {
    "carrier-a": FeedFormat("carrier-a", "|", 6, None, "46000", _parse_a),
    "carrier-b": FeedFormat(
        "carrier-b", ",", 5, "MSISDN,EVENT_TIME_MS,ECI,EVENT,VPLMN", "46001", _parse_b
    ),
    "carrier-c": FeedFormat("carrier-c", "\t", 4, "user\ttime\tecgi\ttype", "46011", _parse_c),
    "canonical": FeedFormat(
        "canonical",
        ",",
        4,
        "msisdn,ts,cell_id,event_type",
        None,
        _parse_canonical,
        _canonical_cell_id_ok,
        standard_csv=True,
    ),
}
