"""Local time at the edge: the card shows Asia/Shanghai, the store keeps UTC."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_display(t: datetime) -> str:
    """ "2020.01.21 10:00:00", the card's 更新于 format."""
    return t.astimezone(LOCAL_TZ).strftime("%Y.%m.%d %H:%M:%S")
