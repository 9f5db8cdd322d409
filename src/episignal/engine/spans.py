"""The official rule's raw material: first and last record per place and local day."""

from __future__ import annotations

import ibis.expr.types as ir

from episignal.ingest.events import LOCAL_UTC_OFFSET_S

SECONDS_PER_DAY = 86_400


def day_spans(recs: ir.Table, day_start_utc_s: int) -> ir.Table:
    """Per subscriber key (sid) and place: earliest and latest record of the local day."""
    day = recs.filter(
        (recs.ts_utc_s >= day_start_utc_s) & (recs.ts_utc_s < day_start_utc_s + SECONDS_PER_DAY)
    )
    return day.group_by(["sid", "place"]).aggregate(
        first_utc_s=day.ts_utc_s.min(), last_utc_s=day.ts_utc_s.max(), n_records=day.count()
    )


def local_midnight_utc_s(epoch_day: int) -> int:
    """UTC seconds of 00:00 Asia/Shanghai on the local day numbered ``epoch_day``."""
    return epoch_day * SECONDS_PER_DAY - LOCAL_UTC_OFFSET_S
