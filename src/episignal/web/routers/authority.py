"""The health authority's API: cases, close contacts, risk areas (bearer token with a scope)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool

from episignal.card.timefmt import LOCAL_TZ
from episignal.privacy.pseudonym import InvalidNumber, normalise_msisdn
from episignal.sms.outbound import SmsDeliveryError
from episignal.store import risk, subjects
from episignal.web.deps import (
    SCOPE_CASE,
    SCOPE_CLOSE_CONTACT,
    SCOPE_RISK_AREA,
    ApiClient,
    ServicesDep,
    require_scope,
)
from episignal.web.models import (
    CaseIn,
    CaseOut,
    CloseContactIn,
    CloseContactOut,
    RiskAreaIn,
    RiskAreaOut,
)

router = APIRouter(prefix="/api", tags=["health authority"])

CLOSE_CONTACT_SMS = (
    "【疫情防控】您可能与新冠病毒感染者有过密切接触，行程卡已标示为橙色。"
    "请尽快就近进行核酸检测，并配合当地疾控部门。"
)
MAX_EXPOSURE_AGE_DAYS = 60
_AUTH = {401: {"description": "no or unknown token"}, 403: {"description": "scope missing"}}


def _e164(raw: str) -> str:
    try:
        return normalise_msisdn(raw)
    except InvalidNumber as exc:
        raise HTTPException(400, str(exc)) from None


def _local_midnight(d: object) -> datetime:
    return datetime.combine(d, time(0), LOCAL_TZ).astimezone(UTC)  # type: ignore[arg-type]


@router.post(
    "/close-contacts",
    response_model=CloseContactOut,
    status_code=201,
    responses=_AUTH,
    summary="flag a close contact: card orange, SMS sent",
)
def close_contact(
    body: CloseContactIn,
    services: ServicesDep,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_CLOSE_CONTACT))],
) -> CloseContactOut:
    if not body.consent:
        raise HTTPException(422, "consent is required to flag a close contact")
    now = datetime.now(UTC)
    today = now.astimezone(LOCAL_TZ).date()
    if body.exposure_date > today:
        raise HTTPException(422, "exposure_date is in the future")
    if (today - body.exposure_date).days > MAX_EXPOSURE_AGE_DAYS:
        raise HTTPException(422, f"exposure_date is more than {MAX_EXPOSURE_AGE_DAYS} days ago")
    e164 = _e164(body.msisdn)
    subscriber = services.pseudonymiser.of_e164(e164)
    days = services.policy.in_force(body.exposure_date).close_contact_days
    until_date = body.exposure_date + timedelta(days=days)
    subjects.flag_close_contact(
        services.store,
        subscriber,
        source=body.source,
        exposure=_local_midnight(body.exposure_date),
        until=_local_midnight(until_date),
        actor=client.name,
        now=now,
    )
    sent = True
    if until_date > today:  # no point alarming someone whose period is already over
        try:
            services.send_sms("+" + e164, CLOSE_CONTACT_SMS)
        except SmsDeliveryError:
            sent = False  # the flag stands; the SMS is retried by the caller if it wants
    else:
        sent = False
    return CloseContactOut(
        status="flagged", colour="orange", orange_until=until_date, sms_sent=sent
    )


@router.post(
    "/cases",
    response_model=CaseOut,
    status_code=201,
    responses=_AUTH,
    summary="report a confirmed or suspected case (card red), or clear it",
)
def report_case(
    body: CaseIn,
    services: ServicesDep,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_CASE))],
) -> CaseOut:
    subscriber = services.pseudonymiser.of_e164(_e164(body.msisdn))
    now = datetime.now(UTC)
    since = _local_midnight(body.since) if body.since else now
    subjects.report_case(
        services.store, subscriber, status=body.status, since=since, actor=client.name, now=now
    )
    return CaseOut(status=body.status)


def _area_out(a: risk.RiskArea) -> RiskAreaOut:
    return RiskAreaOut(
        id=a.id,
        code=a.division_code,
        city_code=a.city_code,
        name=a.division_name,
        level=a.level,
        starts_at=a.starts_at,
        ends_at=a.ends_at,
    )


@router.post(
    "/risk-areas",
    response_model=RiskAreaOut,
    status_code=201,
    responses=_AUTH,
    summary="declare a county or city a low / medium / high-risk area",
)
def declare_risk_area(
    body: RiskAreaIn,
    services: ServicesDep,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_RISK_AREA))],
) -> RiskAreaOut:
    starts = body.starts_at if body.starts_at.tzinfo else body.starts_at.replace(tzinfo=LOCAL_TZ)
    ends = body.ends_at
    if ends is not None and ends.tzinfo is None:
        ends = ends.replace(tzinfo=LOCAL_TZ)
    try:
        area = risk.declare(
            services.store,
            division_code=body.code,
            level=body.level,
            starts_at=starts,
            ends_at=ends,
            declared_by=client.name,
            now=datetime.now(UTC),
        )
    except risk.UnknownArea as exc:
        raise HTTPException(422, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    return _area_out(area)


@router.delete(
    "/risk-areas/{area_id}",
    status_code=204,
    responses=_AUTH,
    summary="lift a risk-area declaration now",
)
def lift_risk_area(
    area_id: int,
    services: ServicesDep,
    client: Annotated[ApiClient, Depends(require_scope(SCOPE_RISK_AREA))],
) -> None:
    if not 0 < area_id < 2**62:
        raise HTTPException(404, "no such risk area")
    if not risk.end_area(services.store, area_id, ends_at=datetime.now(UTC), actor=client.name):
        raise HTTPException(404, "no such risk area")


@router.get(
    "/risk-areas", response_model=list[RiskAreaOut], summary="risk areas in force now (public)"
)
async def list_risk_areas(services: ServicesDep) -> list[RiskAreaOut]:
    areas = await run_in_threadpool(services.cards.risk_areas)
    now = datetime.now(UTC)
    return [_area_out(a) for a in areas if a.active_at(now)]
