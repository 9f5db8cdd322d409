"""Open the serving store: a SQLite file by default, PostgreSQL by ``EPISIGNAL_DATABASE_URL``."""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, insert, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from episignal.config import Settings, get_settings
from episignal.layout import Layout
from episignal.store import schema

SQLITE_BUSY_TIMEOUT_MS = 10_000
GENESIS_HASH = "0" * 64  # prev_hash of the first audit row
_SQLITE_BEGIN_MODES = {"DEFERRED", "IMMEDIATE"}


class StoreError(RuntimeError):
    """The store is missing, of another schema version, or unreachable."""


class StoreUnavailable(StoreError):
    """A read could not be answered now (connection lost, timeout): retry later."""


def database_url(data_dir: Path, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{Layout(data_dir).serving_db}"


def _normalise_url(url: str) -> str:
    # "postgresql://" means psycopg 3 here (SQLAlchemy's default would be psycopg2).
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself, so writers can take the lock up front.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, nor it them
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        if mode not in _SQLITE_BEGIN_MODES:
            raise ValueError(f"unknown SQLite transaction mode {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Store:
    """The engine plus the few things every caller needs to know about the backend."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.is_sqlite = engine.dialect.name == "sqlite"
        self.is_postgres = engine.dialect.name == "postgresql"
        database = engine.url.database if self.is_sqlite else None
        self._write_lock_path = (
            Path(database + ".write-lock") if database and database != ":memory:" else None
        )

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (one snapshot on SQLite WAL)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction; on SQLite it takes the write lock at BEGIN (no upgrade deadlock)."""
        if self._write_lock_path is None:
            with self.engine.connect() as conn, conn.begin():
                yield conn
            return
        # SQLite's own busy handler polls with sleeps of up to 100 ms, which is what a second
        # worker waits under load; an flock queue hands the lock over as soon as it is free.
        fd = os.open(self._write_lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            with self.engine.connect() as conn:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
                with conn.begin():
                    yield conn
        finally:
            os.close(fd)  # releases the flock

    def create_schema(self) -> None:
        schema.metadata.create_all(self.engine)
        with self.write() as conn:
            found = conn.execute(
                select(schema.store_meta.c.value).where(schema.store_meta.c.key == "schema_version")
            ).scalar_one_or_none()
            if found is not None and int(found) != schema.SCHEMA_VERSION:
                raise StoreError(
                    f"serving store has schema version {found}, this release needs "
                    f"{schema.SCHEMA_VERSION}; migrate or publish into a new store"
                )
            for stmt in (
                insert(schema.store_meta).values(
                    key="schema_version", value=str(schema.SCHEMA_VERSION)
                ),
                insert(schema.serving_state).values(id=1, publication_id=None, risk_revision=0),
                insert(schema.audit_head).values(id=1, seq=0, hash=GENESIS_HASH),
            ):
                try:
                    with conn.begin_nested():
                        conn.execute(stmt)
                except IntegrityError:
                    pass  # already there: creating the schema twice is harmless

    def dispose(self) -> None:
        self.engine.dispose()


def open_store(
    data_dir: Path,
    settings: Settings | None = None,
    *,
    url: str | None = None,
    create: bool = True,
    pool_size: int = 8,
) -> Store:
    """Connect to the serving store (and create its tables unless ``create`` is false)."""
    url = _normalise_url(url or database_url(data_dir, settings))
    if make_url(url).get_backend_name() == "sqlite":
        Layout(data_dir).ensure()
        engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size * 2)
        _configure_sqlite(engine)
    else:
        engine = create_engine(
            url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True
        )
    store = Store(engine)
    if create:
        store.create_schema()
    return store
