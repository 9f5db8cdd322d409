"""The official rule's raw material: first and last record per place and local day."""

from __future__ import annotations

import ibis.expr.types as ir

from episignal.ingest.events import LOCAL_UTC_OFFSET_S

SECONDS_PER_DAY = 86_400


def day_spans(bounds: ir.Table) -> ir.Table:
    """Per key (``sid``: subscriber and local day) and place key ``pid``: earliest and latest
    record, count.

    ``bounds`` holds, for the day(s) concerned only, the records where a stretch of records at one
    place within the day starts (``span_start``) or ends (``span_end``), with ``pos`` numbering
    the subscriber's records (``boundaries.mark_boundaries``). A place's records in a day are
    such stretches, so its earliest and latest records are among these rows, and its count is
    the sum of the stretches' lengths: the sum of (end pos + 1) minus the sum of start pos.
    """
    t = bounds.filter(bounds.span_start | bounds.span_end)
    ends = t.span_end.ifelse(t.pos + 1, 0)
    starts = t.span_start.ifelse(t.pos, 0)
    return t.group_by(["sid", "pid"]).aggregate(
        first_utc_s=t.ts_utc_s.min(),
        last_utc_s=t.ts_utc_s.max(),
        n_records=(ends.sum() - starts.sum()).cast("int64"),
    )


def local_midnight_utc_s(epoch_day: int) -> int:
    """UTC seconds of 00:00 Asia/Shanghai on the local day numbered ``epoch_day``."""
    return epoch_day * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S
