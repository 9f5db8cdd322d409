"""Request dependencies: services, the subscriber session, CSRF, health-authority bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select

from episignal.card.access import Session
from episignal.store import schema
from episignal.web.services import Services

SESSION_COOKIE = "es_session"
CSRF_COOKIE = "es_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_TOKEN_BYTES = 16
MAX_BEARER_CHARS = 256

SCOPE_CLOSE_CONTACT = "close-contact:write"
SCOPE_CASE = "case:write"
SCOPE_RISK_AREA = "risk-area:write"
SCOPES = (SCOPE_CLOSE_CONTACT, SCOPE_CASE, SCOPE_RISK_AREA)


# Dependencies without I/O are coroutines: FastAPI runs plain functions in a worker thread,
# which would cost more than the card lookup itself.
async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


def client_address(request: Request, services: Services) -> str:
    hops = services.settings.trusted_proxy_hops
    if hops:
        forwarded = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.client.host if request.client else "unknown"


async def current_session(request: Request, services: ServicesDep) -> Session:
    session = services.sessions.read(request.cookies.get(SESSION_COOKIE), datetime.now(UTC))
    if session is None:
        raise HTTPException(401, "not signed in: verify your number with an SMS code first")
    return session


SessionDep = Annotated[Session, Depends(current_session)]


def new_csrf_token() -> str:
    return secrets.token_urlsafe(CSRF_TOKEN_BYTES)


async def require_csrf(request: Request) -> None:
    """Double-submit token: a page of ours read the cookie and echoed it in a header.

    Another site can make a browser send our cookies, but cannot read them to set the header.
    """
    cookie = request.cookies.get(CSRF_COOKIE, "")
    header = request.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not hmac.compare_digest(cookie, header):
        raise HTTPException(403, "missing or wrong CSRF token: reload the page (GET /api/csrf)")
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if origin.split("://", 1)[-1] != host:
            raise HTTPException(403, "cross-site request refused")


@dataclass(frozen=True)
class ApiClient:
    name: str
    scopes: frozenset[str]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer_client(request: Request, services: Services) -> ApiClient:
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token or len(token) > MAX_BEARER_CHARS:
        raise HTTPException(
            401,
            "a health-authority bearer token is required",
            headers={"WWW-Authenticate": 'Bearer realm="episignal"'},
        )
    c = schema.api_client
    with services.store.read() as conn:
        row = conn.execute(
            select(c.c.name, c.c.scopes).where(
                c.c.token_sha256 == token_digest(token.strip()), c.c.revoked.is_(False)
            )
        ).one_or_none()
    if row is None:
        raise HTTPException(
            401,
            "unknown or revoked token",
            headers={"WWW-Authenticate": 'Bearer realm="episignal", error="invalid_token"'},
        )
    return ApiClient(row.name, frozenset(row.scopes.split()))


def require_scope(scope: str):  # type: ignore[no-untyped-def]
    def dependency(request: Request, services: ServicesDep) -> ApiClient:
        client = _bearer_client(request, services)
        if scope not in client.scopes:
            raise HTTPException(403, f"this token lacks the scope {scope}")
        return client

    return dependency
