"""Append-only, hash-chained audit log of every disclosure and every health-authority action.

Row ``n`` stores ``hash_n = SHA-256(hash_{n-1} ‖ canonical(row_n))`` and the head row keeps the
last ``(seq, hash)``. An edited row breaks its own hash, an inserted or deleted row breaks the
link of the next one or the sequence, and truncating the tail disagrees with the head. Writers
serialise on the head row; the web workers batch their entries (group commit) so a surge costs
one short transaction per batch, not per view, and no response leaves before its row is durable.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from episignal.store import schema
from episignal.store.engine import GENESIS_HASH, Store

AUDIT_BATCH_MAX = 500  # entries per group commit
# A commit costs ten times a row: wait this long for company before committing alone (adds at
# most this much latency to a lone request, saves most of the per-view cost under load).
AUDIT_GATHER_S = 0.003
_COLUMNS = "seq, ts_utc, event, actor, subject, detail, prev_hash, hash"
_INSERT = {
    "qmark": f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "pyformat": f"INSERT INTO audit_log ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
    "format": f"INSERT INTO audit_log ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
}
_HEAD_UPDATE = {
    "qmark": "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1",
    "pyformat": "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1",
    "format": "UPDATE audit_head SET seq = %s, hash = %s WHERE id = 1",
}


@dataclass(frozen=True)
class AuditEntry:
    event: str  # card_view | sms_reply | verify | otp_sent | session | consent | case | ...
    actor: str  # channel or API client name
    subject: str | None = None  # pseudonym, never a number
    detail: dict[str, Any] = field(default_factory=dict)
    ts: datetime = field(default_factory=lambda: datetime.now(UTC))


def canonical(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_hash(
    prev_hash: str, seq: int, ts_utc: str, event: str, actor: str, subject: str | None, detail: str
) -> str:
    body = canonical([seq, ts_utc, event, actor, subject, detail])
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def append(conn: Connection, entries: Iterable[AuditEntry], *, lock: bool = True) -> int:
    """Append entries in the caller's write transaction; returns the last sequence number."""
    head = schema.audit_head
    query = select(head.c.seq, head.c.hash).where(head.c.id == 1)
    if lock and conn.dialect.name != "sqlite":  # SQLite: BEGIN IMMEDIATE already holds the lock
        query = query.with_for_update()
    seq, prev = conn.execute(query).one()
    rows = []
    for e in entries:
        seq += 1
        ts = e.ts.astimezone(UTC).isoformat(timespec="microseconds")
        detail = canonical(e.detail)
        h = row_hash(prev, seq, ts, e.event, e.actor, e.subject, detail)
        rows.append((seq, ts, e.event, e.actor, e.subject, detail, prev, h))
        prev = h
    if rows:
        conn.exec_driver_sql(_INSERT[conn.dialect.paramstyle], rows)
        conn.exec_driver_sql(_HEAD_UPDATE[conn.dialect.paramstyle], (seq, prev))
    return seq


def record(store: Store, *entries: AuditEntry) -> None:
    """Append in a transaction of its own."""
    with store.write() as conn:
        append(conn, entries)


@dataclass(frozen=True)
class AuditProblem:
    seq: int
    problem: str


@dataclass(frozen=True)
class AuditReport:
    rows: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def _scan(conn: Connection, page: int = 10_000) -> Iterator[Any]:
    log = schema.audit_log
    last = 0
    while True:
        batch = conn.execute(
            select(log).where(log.c.seq > last).order_by(log.c.seq).limit(page)
        ).all()
        if not batch:
            return
        yield from batch
        last = batch[-1].seq


def verify(store: Store) -> AuditReport:
    """Walk the chain and report every row that was edited, inserted or deleted."""
    problems: list[AuditProblem] = []
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    with store.read() as conn:
        head_seq, head_hash = conn.execute(
            select(schema.audit_head.c.seq, schema.audit_head.c.hash)
        ).one()
        for row in _scan(conn):
            count += 1
            if row.seq != expected_seq:
                problems.append(
                    AuditProblem(row.seq, f"rows {expected_seq}..{row.seq - 1} are missing")
                )
            if row.prev_hash != prev:
                problems.append(AuditProblem(row.seq, "does not link to the row before it"))
            recomputed = row_hash(
                row.prev_hash, row.seq, row.ts_utc, row.event, row.actor, row.subject, row.detail
            )
            if recomputed != row.hash:
                problems.append(AuditProblem(row.seq, "content does not match its hash (edited)"))
            prev, expected_seq = row.hash, row.seq + 1
    last_seq = expected_seq - 1
    if last_seq != head_seq or prev != head_hash:
        problems.append(
            AuditProblem(
                last_seq, f"log ends at row {last_seq} but the head records row {head_seq}"
            )
        )
    return AuditReport(rows=count, head_seq=head_seq, head_hash=head_hash, problems=problems)


class AuditBatcher:
    """Group commit for the web workers: callers await until their entry is durable."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None

    async def record(self, entry: AuditEntry) -> None:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._pending.append((entry, fut))
        if not self._flushing:
            self._flushing = True
            self._task = loop.create_task(self._flush_loop())
        await fut

    async def _flush_loop(self) -> None:
        try:
            await asyncio.sleep(AUDIT_GATHER_S)
            while self._pending:
                batch = self._pending[:AUDIT_BATCH_MAX]
                del self._pending[:AUDIT_BATCH_MAX]
                try:
                    await asyncio.to_thread(record, self._store, *(e for e, _ in batch))
                except Exception as exc:  # the callers answer 503, nothing is disclosed
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                else:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
        finally:
            self._flushing = False
