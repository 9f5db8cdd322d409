"""Kannel's smsbox calls this for every mobile-originated SMS (sms-service get-url)."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from episignal.privacy.pseudonym import InvalidNumber
from episignal.sms.outbound import SmsDeliveryError
from episignal.web.deps import ServicesDep

router = APIRouter(tags=["sms"])


@router.get(
    "/sms/mo",
    summary="mobile-originated SMS from the gateway",
    responses={403: {"description": "wrong shared secret"}},
)
def mobile_originated(
    services: ServicesDep,
    sender: Annotated[str, Query(alias="from", min_length=1, max_length=32)],
    text: Annotated[str, Query(max_length=1600)] = "",
    secret: Annotated[str, Query(max_length=128)] = "",
) -> Response:
    expected = services.settings.sms_mo_secret.get_secret_value()
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        raise HTTPException(403, "the SMS webhook needs the gateway's shared secret")
    try:
        services.mo.handle(sender, text, datetime.now(UTC))
    except InvalidNumber as exc:
        raise HTTPException(400, str(exc)) from None
    except SmsDeliveryError:
        raise HTTPException(503, "reply could not be sent") from None
    return Response(status_code=200, content="", media_type="text/plain")
