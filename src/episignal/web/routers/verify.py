"""The verifier's side: check a card token, and the public key for offline verification."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter

from episignal.card.token import jwks
from episignal.store import audit
from episignal.web.deps import ServicesDep
from episignal.web.models import VerifiedCard, VerifiedPlace, VerifyRequest, VerifyResult

router = APIRouter(tags=["verify"])

KEY_PATH = "/.well-known/episignal-card-key"


def _card(claims: dict[str, Any]) -> VerifiedCard:
    return VerifiedCard(
        masked_msisdn=claims["m"],
        colour=claims["c"],
        places=[VerifiedPlace(name=p[0], code=p[1], star=bool(p[2])) for p in claims["p"]],
        countries=[{"name": k[0], "code": k[1]} for k in claims["k"]],
        data_date=date.fromisoformat(claims["d"]) if claims.get("d") else None,
        window_days=claims.get("w"),
        policy_version=claims["pv"],
        issued_at=datetime.fromtimestamp(claims["iat"], UTC),
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )


@router.post(
    "/api/verify", response_model=VerifyResult, summary="is this card token genuine and fresh?"
)
async def verify(body: VerifyRequest, services: ServicesDep) -> VerifyResult:
    result = services.signer.verify(body.token.strip())
    card = None
    if result.valid and result.claims is not None:
        try:
            card = _card(result.claims)
        except (KeyError, TypeError, ValueError, IndexError):
            result = result.__class__(
                False, "signed but not a card token", result.age_seconds, None
            )
    await services.audit.record(
        audit.AuditEntry(
            event="verify",
            actor="verifier",
            detail={
                "valid": result.valid,
                "reason": result.reason,
                "masked": card.masked_msisdn if card else None,
            },
        )
    )
    return VerifyResult(
        valid=result.valid,
        reason=result.reason,
        reason_code=result.reason_code,  # type: ignore[arg-type]
        age_seconds=None if result.age_seconds is None else round(result.age_seconds, 1),
        card=card,
    )


@router.get(KEY_PATH, summary="the card-token verification key (JWK set)")
def card_key(services: ServicesDep) -> dict[str, Any]:
    return jwks(services.signer.public)
