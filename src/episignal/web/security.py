"""HTTP hardening for every response: security headers, a CSP with no external origin, request
size limit, per-worker overload shedding (503 pointing at the SMS channel), and an access log
that records the path only (query strings may carry numbers)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("episignal.web.access")

MAX_BODY_BYTES = 16 * 1024  # every request of this API is a small JSON object
MAX_IN_FLIGHT = 512  # per worker; beyond this we shed load rather than queue it

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")


async def _json_error(
    send: Send, status: int, message: str, extra: list[Any] | None = None
) -> None:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += SECURITY_HEADERS + (extra or [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


class HardeningMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.app = app
        self.hsts = hsts
        self.max_in_flight = max_in_flight
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path = scope.get("path", "")
        status_box = [0]
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > MAX_BODY_BYTES
                except ValueError:
                    too_big = True
                if too_big:
                    await _json_error(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
                    return
        if self.in_flight >= self.max_in_flight:
            await _json_error(
                send,
                503,
                "服务繁忙，请稍后再试，或发送短信CXMYD查询 (busy; retry or use SMS)",
                [(b"retry-after", b"5")],
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > MAX_BODY_BYTES:
                    raise _BodyTooLarge
            return message

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_box[0] = message["status"]
                headers = list(message.get("headers", []))
                headers += SECURITY_HEADERS
                if self.hsts:
                    headers.append(HSTS)
                if path.startswith("/api/"):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, limited_receive, send_with_headers)
        except _BodyTooLarge:
            if not status_box[0]:
                await _json_error(send, 413, f"request body over {MAX_BODY_BYTES} bytes")
        finally:
            self.in_flight -= 1
            if log.isEnabledFor(logging.INFO):
                log.info(
                    "%s %s %d %.1fms",
                    scope.get("method"),
                    path,
                    status_box[0],
                    (time.perf_counter() - started) * 1000,
                )
