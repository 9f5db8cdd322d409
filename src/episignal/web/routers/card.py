"""The subscriber's side: SMS code, session with consent, the card, its QR code."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import segno
from fastapi import APIRouter, Depends, HTTPException, Request, Response

from episignal.card.access import OTP_RESEND_COOLDOWN, OTP_TTL, AccessDenied
from episignal.card.model import Card
from episignal.privacy.pseudonym import InvalidNumber, mask_msisdn, normalise_msisdn
from episignal.sms.outbound import SmsDeliveryError
from episignal.store import audit, subjects
from episignal.web.deps import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    ServicesDep,
    client_address,
    current_session,
    new_csrf_token,
    require_csrf,
)
from episignal.web.models import (
    ConsentText,
    CsrfToken,
    OtpRequest,
    OtpSent,
    SessionOpened,
    SessionRequest,
    VerifyRequest,
)
from episignal.web.services import Services

router = APIRouter(prefix="/api", tags=["card"])

OTP_TEXT = "【行程卡】验证码{code}，5分钟内有效。请勿告诉他人。"


def _denied(exc: AccessDenied) -> HTTPException:
    headers = {"Retry-After": str(exc.retry_after_s)} if exc.retry_after_s else None
    return HTTPException(exc.status, exc.message, headers=headers)


def _number(raw: str) -> str:
    try:
        return normalise_msisdn(raw)
    except InvalidNumber as exc:
        raise HTTPException(400, str(exc)) from None


def current_consent(services: Services) -> ConsentText:
    publication = services.cards.live_publication()
    policy = services.policy
    version = (
        policy.by_id(publication.policy_version)
        if publication
        else policy.in_force(datetime.now(UTC).date())
    )
    text = policy.consent[version.consent_version]
    return ConsentText(
        version=version.consent_version, zh=text.zh, en=text.en, window_days=version.window_days
    )


def set_csrf_cookie(response: Response, services: Services, token: str) -> None:
    response.set_cookie(
        CSRF_COOKIE,
        token,
        secure=services.settings.cookie_secure,
        httponly=False,
        samesite="strict",
        path="/",
    )


@router.get("/csrf", response_model=CsrfToken, summary="CSRF token for the form posts")
def csrf(request: Request, response: Response, services: ServicesDep) -> CsrfToken:
    token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    set_csrf_cookie(response, services, token)
    return CsrfToken(token=token)


@router.get("/consent", response_model=ConsentText, summary="the consent text in force")
def consent_text(services: ServicesDep) -> ConsentText:
    return current_consent(services)


@router.post(
    "/otp",
    response_model=OtpSent,
    status_code=202,
    dependencies=[Depends(require_csrf)],
    summary="send an SMS code",
)
def request_otp(body: OtpRequest, request: Request, services: ServicesDep) -> OtpSent:
    e164 = _number(body.msisdn)
    subscriber = services.pseudonymiser.of_e164(e164)
    now = datetime.now(UTC)
    try:
        code = services.otp.issue(subscriber, client_address(request, services), now)
    except AccessDenied as exc:
        raise _denied(exc) from None
    try:
        services.send_sms("+" + e164, OTP_TEXT.format(code=code))
    except SmsDeliveryError:
        services.otp.withdraw(subscriber)
        raise HTTPException(503, "the SMS could not be sent; try again shortly") from None
    return OtpSent(
        sent=True,
        expires_in_s=int(OTP_TTL.total_seconds()),
        resend_after_s=int(OTP_RESEND_COOLDOWN.total_seconds()),
    )


@router.post(
    "/session",
    response_model=SessionOpened,
    dependencies=[Depends(require_csrf)],
    summary="check the code, record consent, open a session (cookie)",
)
def open_session(body: SessionRequest, response: Response, services: ServicesDep) -> SessionOpened:
    e164 = _number(body.msisdn)
    consent = current_consent(services)
    if body.consent_version != consent.version:
        raise HTTPException(409, f"consent text has changed: agree to version {consent.version}")
    subscriber = services.pseudonymiser.of_e164(e164)
    now = datetime.now(UTC)
    try:
        services.otp.check(subscriber, body.code, now)
    except AccessDenied as exc:
        raise _denied(exc) from None
    cookie, session = services.sessions.issue(subscriber, mask_msisdn(e164), now)
    with services.store.write() as conn:
        subjects.record_consent(conn, subscriber, consent.version, "web", now)
        audit.append(
            conn,
            [
                audit.AuditEntry(
                    event="session",
                    actor="web",
                    subject=subscriber,
                    detail={"consent_version": consent.version},
                )
            ],
        )
    max_age = int(services.sessions.lifetime.total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=max_age,
        httponly=True,
        secure=services.settings.cookie_secure,
        samesite="strict",
        path="/",
    )
    return SessionOpened(
        masked_msisdn=session.masked_msisdn, expires_at=datetime.fromtimestamp(session.expires, UTC)
    )


@router.post(
    "/logout",
    status_code=204,
    dependencies=[Depends(require_csrf)],
    summary="end the session on this device",
)
def logout(response: Response, services: ServicesDep) -> Response:
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        secure=services.settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    response.status_code = 204
    return response


@router.get(
    "/card",
    response_model=Card,
    summary="the signed-in subscriber's card",
    responses={401: {"description": "not signed in"}, 429: {"description": "too many"}},
)
async def card(request: Request) -> Response:
    # The hot path of a surge: no dependency injection (it costs more than the lookup), the
    # same session check as ``current_session``.
    services: Services = request.app.state.services
    session = await current_session(request, services)
    if not services.card_limiter.allow(session.session_id):
        raise HTTPException(
            429, "too many card views; wait a minute", headers={"Retry-After": "60"}
        )
    # One short statement on a connection this thread holds: cheaper on the event loop than a
    # hop to a worker thread (which costs more CPU than the query). A stuck store is bounded by
    # the lookup's statement timeout and the in-flight limit.
    result = services.cards.lookup(session.subscriber, session.masked_msisdn)
    await services.audit.record(
        audit.AuditEntry(
            event="card_view",
            actor="web",
            subject=session.subscriber,
            detail={
                "colour": result.colour,
                "places": len(result.places),
                "countries": len(result.countries),
                "policy": result.policy_version,
            },
        )
    )
    # Built by our own code from the Card model: skip FastAPI's second validation pass.
    return Response(result.model_dump_json(), media_type="application/json")


@router.post(
    "/qr",
    summary="the QR code (SVG) of a card token",
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def qr_code(body: VerifyRequest, services: ServicesDep) -> Response:
    result = services.signer.verify(body.token)
    if not result.valid:
        raise HTTPException(400, f"not a valid card token: {result.reason}")
    out = io.BytesIO()
    segno.make(body.token, error="m", micro=False).save(
        out, kind="svg", scale=4, border=2, xmldecl=False, svgclass=None, lineclass=None
    )
    return Response(out.getvalue(), media_type="image/svg+xml")
