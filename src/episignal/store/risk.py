"""Risk-area registry: the health authority declares a county or city at a level for a period.

A declaration bumps ``serving_state.risk_revision`` in the same transaction, so every worker
reloads its cached registry on its next request: stars and colours change at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from episignal.geo import divisions
from episignal.geo.divisions import UnknownDivision
from episignal.store import audit, schema
from episignal.store.engine import Store

RISK_LEVELS = ("low", "medium", "high")


class UnknownArea(ValueError):
    """The code is not a county- or prefecture-level division."""


@dataclass(frozen=True)
class RiskArea:
    id: int
    division_code: str
    city_code: str
    division_name: str
    level: str
    starts_at: datetime
    ends_at: datetime | None

    def active_at(self, t: datetime) -> bool:
        return self.starts_at <= t and (self.ends_at is None or t < self.ends_at)

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.starts_at <= end and (self.ends_at is None or start < self.ends_at)


def resolve_area(code: str) -> tuple[str, str]:
    """(prefecture-level city code, display name) of a county or city code."""
    table = divisions()
    try:
        division = table.get(code)
        city = table.prefecture(code)
    except UnknownDivision:
        raise UnknownArea(f"no county or city with division code {code}") from None
    if division.level.value == "province" and division.code != city.code:
        raise UnknownArea(f"{code} is a province; declare its counties or cities")
    return city.code, table.display_name(code)


def declare(
    store: Store,
    *,
    division_code: str,
    level: str,
    starts_at: datetime,
    ends_at: datetime | None,
    declared_by: str,
    now: datetime,
) -> RiskArea:
    if level not in RISK_LEVELS:
        raise ValueError(f"risk level must be one of {RISK_LEVELS}")
    if ends_at is not None and ends_at <= starts_at:
        raise ValueError("a risk area must end after it starts")
    city_code, name = resolve_area(division_code)
    with store.write() as conn:
        area_id = conn.execute(
            insert(schema.risk_area)
            .values(
                division_code=division_code,
                city_code=city_code,
                division_name=name,
                level=level,
                starts_at=starts_at,
                ends_at=ends_at,
                declared_by=declared_by,
                declared_at=now,
            )
            .returning(schema.risk_area.c.id)
        ).scalar_one()
        _bump(conn)
        audit.append(
            conn,
            [
                audit.AuditEntry(
                    event="risk_area",
                    actor=declared_by,
                    detail={
                        "id": area_id,
                        "division": division_code,
                        "level": level,
                        "starts_at": starts_at.isoformat(),
                        "ends_at": ends_at.isoformat() if ends_at else None,
                    },
                )
            ],
        )
    return RiskArea(area_id, division_code, city_code, name, level, starts_at, ends_at)


def end_area(store: Store, area_id: int, *, ends_at: datetime, actor: str) -> bool:
    """Lift a declaration (sets its end); false when there is no such area."""
    ra = schema.risk_area
    with store.write() as conn:
        found = conn.execute(select(ra.c.starts_at).where(ra.c.id == area_id)).one_or_none()
        if found is None:
            return False
        conn.execute(
            update(ra).where(ra.c.id == area_id).values(ends_at=max(ends_at, found.starts_at))
        )
        _bump(conn)
        audit.append(
            conn,
            [
                audit.AuditEntry(
                    event="risk_area_end",
                    actor=actor,
                    detail={"id": area_id, "ends_at": ends_at.isoformat()},
                )
            ],
        )
    return True


def _bump(conn: Connection) -> None:
    st = schema.serving_state
    conn.execute(update(st).where(st.c.id == 1).values(risk_revision=st.c.risk_revision + 1))


def load_all(conn: Connection) -> list[RiskArea]:
    ra = schema.risk_area
    return [
        RiskArea(
            r.id, r.division_code, r.city_code, r.division_name, r.level, r.starts_at, r.ends_at
        )
        for r in conn.execute(select(ra).order_by(ra.c.id))
    ]
