"""ASGI entry for uvicorn workers: ``uvicorn --factory episignal.web.asgi:create``.

Every worker builds its own app from the environment (``EPISIGNAL_DATA_DIR``,
``EPISIGNAL_DATABASE_URL``, …); they share nothing but the store and the key files, which is
what lets the service scale out by adding workers and hosts.
"""

from __future__ import annotations

from fastapi import FastAPI

from episignal.config import Settings
from episignal.web.app import create_app


def create() -> FastAPI:
    settings = Settings()
    return create_app(settings.data_dir, settings)
