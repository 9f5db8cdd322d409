"""Load one day's itineraries into the store and switch readers to it atomically.

Rows go in under a new publication id while readers keep seeing the live one; a single
transaction then flips ``serving_state.publication_id``. The previous publication stays until the
next publish, so a request that read the old id a moment before the flip still finds its rows.
Publishing the same content twice is a no-op.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from sqlalchemy import Connection, delete, insert, or_, select, update

from episignal.store import audit, schema
from episignal.store.engine import Store

ITINERARY_COLUMNS = (
    "subscriber",
    "place_code",
    "place_name",
    "place_kind",
    "first_arrival",
    "last_departure",
)
PLACE_KINDS = frozenset({"city", "country"})
_INSERT_CHUNK_ROWS = 20_000
STALE_LOAD_AGE = dt.timedelta(days=1)


class PublishError(ValueError):
    """The itinerary table does not match the contract; nothing was published."""


@dataclass(frozen=True)
class PublishResult:
    publication_id: int
    data_date: dt.date
    rows: int
    subscribers: int
    unchanged: bool  # the same content was already live


def _validate(table: pa.Table) -> pa.Table:
    missing = [c for c in ITINERARY_COLUMNS if c not in table.column_names]
    if missing:
        raise PublishError(f"itinerary table lacks columns {missing}")
    # Metadata (e.g. the engine's computed_at) is not content: re-publishing must be a no-op.
    table = table.select(list(ITINERARY_COLUMNS)).replace_schema_metadata(None)
    for name in ("first_arrival", "last_departure"):
        col = table.column(name)
        if not pa.types.is_timestamp(col.type):
            raise PublishError(f"column {name} must be a timestamp, got {col.type}")
        if col.type.tz is None:  # contract: UTC
            col = pc.assume_timezone(col, "UTC")
        table = table.set_column(
            table.column_names.index(name), name, col.cast(pa.timestamp("us", tz="UTC"))
        )
    for name in ("subscriber", "place_code", "place_name", "place_kind"):
        col = table.column(name).cast(pa.string())
        if col.null_count:
            raise PublishError(f"column {name} has empty values")
        table = table.set_column(table.column_names.index(name), name, col)
    lengths = pc.utf8_length(table.column("subscriber"))
    if len(table) and (pc.min(lengths).as_py() != 32 or pc.max(lengths).as_py() != 32):
        raise PublishError("subscriber must be the 32-hex pseudonym")
    kinds = set(pc.unique(table.column("place_kind")).to_pylist())
    if not kinds <= PLACE_KINDS:
        raise PublishError(f"unknown place_kind values {sorted(kinds - PLACE_KINDS)}")
    return table.sort_by(
        [("subscriber", "ascending"), ("first_arrival", "ascending"), ("place_code", "ascending")]
    )


def content_digest(table: pa.Table, params: tuple[Any, ...]) -> str:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    h = hashlib.sha256(repr(params).encode())
    h.update(sink.getvalue())
    return h.hexdigest()


def _row_tuples(table: pa.Table, publication_id: int) -> Iterator[list[tuple[Any, ...]]]:
    """Rows as SQLite stores UTC datetimes ("YYYY-MM-DD HH:MM:SS.ffffff"), chunk by chunk."""
    for batch in table.to_batches(max_chunksize=_INSERT_CHUNK_ROWS):
        arrival = batch.column("first_arrival").cast(pa.timestamp("us")).cast(pa.string())
        departure = batch.column("last_departure").cast(pa.timestamp("us")).cast(pa.string())
        yield list(
            zip(
                itertools.repeat(publication_id, batch.num_rows),
                batch.column("subscriber").to_pylist(),
                batch.column("place_code").to_pylist(),
                batch.column("place_name").to_pylist(),
                batch.column("place_kind").to_pylist(),
                arrival.to_pylist(),
                departure.to_pylist(),
                strict=True,
            )
        )


def _copy_postgres(conn: Connection, table: pa.Table, publication_id: int) -> None:
    """COPY in CSV chunks written by Arrow: an order of magnitude faster than row inserts."""
    raw = conn.connection.driver_connection
    assert raw is not None
    options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
    with (
        raw.cursor() as cur,
        cur.copy(
            "COPY itinerary_place (publication_id, subscriber, place_code, place_name,"
            " place_kind, first_arrival, last_departure) FROM STDIN WITH (FORMAT csv)"
        ) as copy,
    ):
        for batch in table.to_batches(max_chunksize=_INSERT_CHUNK_ROWS * 5):
            chunk = pa.table(
                {
                    "publication_id": pa.array([publication_id] * batch.num_rows, pa.int64()),
                    "subscriber": batch.column("subscriber"),
                    "place_code": batch.column("place_code"),
                    "place_name": batch.column("place_name"),
                    "place_kind": batch.column("place_kind"),
                    "first_arrival": batch.column("first_arrival").cast(pa.timestamp("us")),
                    "last_departure": batch.column("last_departure").cast(pa.timestamp("us")),
                }
            )
            sink = io.BytesIO()
            pa_csv.write_csv(chunk, sink, options)
            copy.write(sink.getvalue())


def bulk_insert(store: Store, table: pa.Table, publication_id: int) -> None:
    if store.is_postgres:
        with store.write() as conn:
            _copy_postgres(conn, table, publication_id)
        return
    # SQLite has one writer: commit per chunk so audit rows of live traffic interleave.
    sql = (
        "INSERT INTO itinerary_place (publication_id, subscriber, place_code, place_name,"
        " place_kind, first_arrival, last_departure) VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    for rows in _row_tuples(table, publication_id):
        with store.write() as conn:
            conn.exec_driver_sql(sql, rows)


def load_itineraries(
    store: Store,
    table: pa.Table,
    *,
    data_date: dt.date,
    window_days: int,
    min_stay_hours: float,
    policy_version: str,
    actor: str = "publish",
) -> PublishResult:
    """Publish ``table`` (the engine's itinerary contract) as the live day."""
    table = _validate(table)
    digest = content_digest(
        table, (data_date.isoformat(), window_days, min_stay_hours, policy_version)
    )
    subscribers = len(pc.unique(table.column("subscriber"))) if len(table) else 0
    pub = schema.publication
    state = schema.serving_state
    with store.read() as conn:
        live = conn.execute(
            select(pub).join(state, state.c.publication_id == pub.c.id)
        ).one_or_none()
    if live is not None and live.content_digest == digest:
        return PublishResult(live.id, data_date, live.row_count, live.subscriber_count, True)

    now = datetime.now(UTC)
    with store.write() as conn:
        pub_id = conn.execute(
            insert(pub)
            .values(
                data_date=data_date,
                window_days=window_days,
                min_stay_hours=min_stay_hours,
                policy_version=policy_version,
                content_digest=digest,
                row_count=len(table),
                subscriber_count=subscribers,
                status="loading",
                created_at=now,
            )
            .returning(pub.c.id)
        ).scalar_one()
    try:
        bulk_insert(store, table, pub_id)
    except Exception:
        _drop(store, [pub_id])
        raise

    with store.write() as conn:
        previous = conn.execute(select(state.c.publication_id).where(state.c.id == 1)).scalar()
        conn.execute(update(state).where(state.c.id == 1).values(publication_id=pub_id))
        conn.execute(update(pub).where(pub.c.id == pub_id).values(status="live", published_at=now))
        if previous is not None:
            conn.execute(update(pub).where(pub.c.id == previous).values(status="retired"))
        audit.append(
            conn,
            [
                audit.AuditEntry(
                    event="publish",
                    actor=actor,
                    detail={
                        "publication": pub_id,
                        "data_date": data_date.isoformat(),
                        "rows": len(table),
                        "subscribers": subscribers,
                        "policy_version": policy_version,
                    },
                )
            ],
        )
        # Everything but the live and the one just retired is garbage (incl. failed loads).
        stale = (
            conn.execute(
                select(pub.c.id).where(
                    pub.c.id.not_in([pub_id, previous or -1]),
                    # a load still running elsewhere is not garbage until it is a day old
                    or_(pub.c.status != "loading", pub.c.created_at < now - STALE_LOAD_AGE),
                )
            )
            .scalars()
            .all()
        )
    _drop(store, list(stale))
    return PublishResult(pub_id, data_date, len(table), subscribers, False)


def _drop(store: Store, publication_ids: list[int]) -> None:
    if not publication_ids:
        return
    with store.write() as conn:
        conn.execute(
            delete(schema.itinerary_place).where(
                schema.itinerary_place.c.publication_id.in_(publication_ids)
            )
        )
        conn.execute(delete(schema.publication).where(schema.publication.c.id.in_(publication_ids)))
