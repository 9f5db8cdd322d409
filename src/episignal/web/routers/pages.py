"""The mobile pages (static HTML + our own JS/CSS; the JSON API does the work)."""

from __future__ import annotations

import importlib.resources

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from episignal.web.deps import CSRF_COOKIE, ServicesDep, new_csrf_token
from episignal.web.routers.card import set_csrf_cookie

router = APIRouter(include_in_schema=False)

STATIC = importlib.resources.files("episignal.web") / "static"


def _page(name: str, request: Request, services: ServicesDep) -> Response:
    html = (STATIC / name).read_text(encoding="utf-8")
    response = HTMLResponse(html, headers={"Cache-Control": "no-store"})
    token = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
    set_csrf_cookie(response, services, token)
    return response


@router.get("/")
def card_page(request: Request, services: ServicesDep) -> Response:
    return _page("index.html", request, services)


@router.get("/verify")
def verifier_page(request: Request, services: ServicesDep) -> Response:
    return _page("verify.html", request, services)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response((STATIC / "icon.svg").read_bytes(), media_type="image/svg+xml")


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
