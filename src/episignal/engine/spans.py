"""The official rule's raw material: first and last record per place and local day."""

from __future__ import annotations

import ibis.expr.types as ir

from episignal.ingest.events import LOCAL_UTC_OFFSET_S

SECONDS_PER_DAY = 86_400


def day_spans(recs: ir.Table) -> ir.Table:
    """Per key (``sid``: subscriber and local day) and place: earliest and latest record.

    ``recs`` holds the records of the day(s) concerned only, without lookback.
    """
    return recs.group_by(["sid", "place"]).aggregate(
        first_utc_s=recs.ts_utc_s.min(), last_utc_s=recs.ts_utc_s.max(), n_records=recs.count()
    )


def local_midnight_utc_s(epoch_day: int) -> int:
    """UTC seconds of 00:00 Asia/Shanghai on the local day numbered ``epoch_day``."""
    return epoch_day * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S
