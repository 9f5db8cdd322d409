"""FastAPI app factory: ``create_app(data_dir)`` is what uvicorn workers and tests run."""

from __future__ import annotations

import importlib.resources
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from episignal.config import Settings
from episignal.store.engine import Store, StoreUnavailable
from episignal.web.routers import authority, card, pages, sms, verify
from episignal.web.security import HardeningMiddleware
from episignal.web.services import Services

log = logging.getLogger(__name__)
STORE_BUSY = "服务繁忙，请稍后再试，或发送短信CXMYD查询 (store busy; retry or use SMS)"


def _validation_message(exc: RequestValidationError) -> str:
    # Never echo the input back: it may be a phone number.
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "invalid request: " + "; ".join(parts)


def create_app(
    data_dir: Path, settings: Settings | None = None, *, store: Store | None = None
) -> FastAPI:
    settings = settings or Settings()
    services = Services.build(Path(data_dir), settings, store)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if store is None:
            services.store.dispose()

    app = CardApp(
        title="episignal itinerary card",
        version="1",
        summary="Itinerary card (通信大数据行程卡): subscriber card, QR verification, "
        "health-authority flags and risk areas.",
        lifespan=lifespan,
        docs_url=None,  # the Swagger UI loads assets from a CDN: not under our CSP
        redoc_url=None,
    )
    app.state.services = services

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=422)

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(StoreUnavailable)
    async def _store_down(_request: Request, exc: Exception) -> JSONResponse:
        log.warning("serving store unavailable: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": STORE_BUSY},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    for router in (card.router, verify.router, authority.router, sms.router, pages.router):
        app.include_router(router)
    static = importlib.resources.files("episignal.web") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    app.add_middleware(HardeningMiddleware, hsts=settings.cookie_secure)
    app.fast_card = HardeningMiddleware(_card_endpoint, hsts=settings.cookie_secure)
    return app


class CardApp(FastAPI):
    """The FastAPI app, with ``GET /api/card`` — the one endpoint a surge hits — dispatched
    straight to its handler, outside the framework's per-request middleware and routing.

    Same handler, same session check, same errors and security headers as through the router
    (which still serves it for the OpenAPI and for any other method); what is skipped is route
    matching and generic middleware that together cost more than the lookup itself.
    """

    fast_card: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.fast_card is not None
            and scope["type"] == "http"
            and scope["path"] == "/api/card"
            and scope["method"] == "GET"
        ):
            scope["app"] = self
            await self.fast_card(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


async def _card_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    request = Request(scope, receive)
    try:
        response = await card.card(request)
    except HTTPException as exc:
        response = JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )
    except (OperationalError, PoolTimeout, StoreUnavailable) as exc:
        log.warning("serving store unavailable: %s", type(exc).__name__)
        response = JSONResponse(
            {"detail": STORE_BUSY}, status_code=503, headers={"Retry-After": "5"}
        )
    await response(scope, receive, send)
