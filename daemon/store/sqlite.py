"""The SQLite store: one file, WAL mode, one connection guarded by a lock.

Every public method is one transaction. Write transactions start with BEGIN IMMEDIATE so two
processes on the same file (the daemon and a CLI command) queue on the lock instead of failing
half-way through.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite

from daemon.clock import from_ms, to_ms
from daemon.events import EventIn
from daemon.outbox import NewEmail, OutboxRow, Outcome, Settlement, State
from daemon.store.base import Customer, EventOutcome, Recorded
from daemon.store.migrations import MIGRATIONS

_ROW_COLUMNS = (
    "id, dedupe_key, kind, recipient, envelope_from, message_id, message, state, attempts, "
    "last_error"
)


class SQLiteStore:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path

    @classmethod
    async def open(cls, path: Path) -> SQLiteStore:
        """Open (creating if needed) and migrate the store at path."""
        path.parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(path, isolation_level=None)
        try:
            await db.execute("PRAGMA busy_timeout = 10000")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.execute("PRAGMA foreign_keys = ON")
            store = cls(db, path)
            await store._migrate()
        except BaseException:
            await db.close()
            raise
        return store

    async def close(self) -> None:
        async with self._lock:
            await self._db.close()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock:
            cursor = await self._db.execute(sql, params)
            return list(await cursor.fetchall())

    async def _migrate(self) -> None:
        async with self._write() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL)"
            )
            cursor = await db.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            row = await cursor.fetchone()
            current = int(row[0]) if row else 0
            known = max(version for version, _, _ in MIGRATIONS)
            if current > known:
                raise RuntimeError(
                    f"{self.path}: schema version {current} is newer than this Vouch ({known})"
                )
            for version, name, sql in MIGRATIONS:
                if version > current:
                    for statement in _statements(sql):
                        await db.execute(statement)
                    await db.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        (version, name),
                    )

    async def schema_version(self) -> int:
        rows = await self._read("SELECT max(version) FROM schema_migrations")
        return int(rows[0][0])

    # events and customers -----------------------------------------------------------------

    async def record_event(self, event: EventIn, now: datetime) -> EventOutcome:
        body_hash = event.body_hash()
        async with self._write() as db:
            cursor = await db.execute(
                "SELECT body_hash, receipt FROM events WHERE id = ?", (event.id,)
            )
            seen = await cursor.fetchone()
            if seen is not None:
                same = seen[0] == body_hash
                return EventOutcome(
                    Recorded.REPLAY if same else Recorded.CONFLICT, json.loads(seen[1])
                )
            customer_id = None
            if event.customer is not None:
                c = event.customer
                cursor = await db.execute(
                    """
                    INSERT INTO customers
                        (email, name, external_id, timezone, locale, tags, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (email) DO UPDATE SET
                        name = coalesce(excluded.name, name),
                        external_id = coalesce(excluded.external_id, external_id),
                        timezone = coalesce(excluded.timezone, timezone),
                        locale = coalesce(excluded.locale, locale),
                        tags = CASE WHEN excluded.tags = '[]' THEN tags ELSE excluded.tags END,
                        updated_at = excluded.updated_at
                    RETURNING id
                    """,
                    (
                        c.email.lower(),
                        c.name,
                        c.external_id,
                        c.timezone,
                        c.locale,
                        json.dumps(sorted(set(c.tags))),
                        to_ms(now),
                        to_ms(now),
                    ),
                )
                row = await cursor.fetchone()
                assert row is not None
                customer_id = int(row[0])
            receipt = event.receipt()
            await db.execute(
                """
                INSERT INTO events (id, type, known, occurred_at, received_at, customer_id,
                                    body_hash, payload, receipt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
                (
                    event.id,
                    event.type,
                    int(event.known),
                    to_ms(event.occurred_at),
                    to_ms(now),
                    customer_id,
                    body_hash,
                    event.model_dump_json(),
                    json.dumps(receipt),
                ),
            )
        return EventOutcome(Recorded.NEW, receipt)

    async def customer_by_email(self, email: str) -> Customer | None:
        rows = await self._read(
            "SELECT id, email, name, external_id, timezone, locale, tags FROM customers "
            "WHERE email = ?",
            (email.lower(),),
        )
        if not rows:
            return None
        r = rows[0]
        return Customer(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])))

    async def event_counts(self) -> dict[str, int]:
        rows = await self._read("SELECT type, count(*) FROM events GROUP BY type")
        return {str(r[0]): int(r[1]) for r in rows}

    # outbox -------------------------------------------------------------------------------

    async def enqueue(self, email: NewEmail, now: datetime) -> int | None:
        """Add an email unless its key exists; to a suppressed address: recorded, not queued."""
        async with self._write() as db:
            cursor = await db.execute(
                "SELECT 1 FROM suppressions WHERE email = ?", (email.recipient.lower(),)
            )
            suppressed = await cursor.fetchone() is not None
            cursor = await db.execute(
                """
                INSERT INTO outbox (dedupe_key, kind, customer_id, recipient, envelope_from,
                                    message_id, message, state, due_at, last_error,
                                    created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id
                """,
                (
                    email.dedupe_key,
                    email.kind,
                    email.customer_id,
                    email.recipient,
                    email.envelope_from,
                    email.message_id,
                    email.message,
                    State.SUPPRESSED if suppressed else State.QUEUED,
                    to_ms(email.not_before),
                    "address is suppressed" if suppressed else None,
                    to_ms(now),
                    to_ms(now),
                ),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def claim(
        self, owner: str, now: datetime, lease_seconds: float, limit: int, ids: Sequence[int] = ()
    ) -> list[OutboxRow]:
        """Lease up to `limit` due rows to `owner`. A lease that runs out returns its row."""
        now_ms = to_ms(now)
        lease_until = now_ms + int(lease_seconds * 1000)
        only = f"AND id IN ({', '.join('?' * len(ids))})" if ids else ""
        async with self._write() as db:
            cursor = await db.execute(
                f"""
                UPDATE outbox SET state = 'sending', lease_owner = ?, due_at = ?, updated_at = ?
                WHERE id IN (
                    SELECT id FROM outbox
                    WHERE state IN ('queued', 'sending') AND due_at <= ? {only}
                    ORDER BY due_at LIMIT ?
                )
                RETURNING {_ROW_COLUMNS}
                """,
                (owner, lease_until, now_ms, now_ms, *ids, limit),
            )
            rows = await cursor.fetchall()
        return sorted((_outbox_row(r) for r in rows), key=lambda r: r.id)

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """Record many outcomes in one transaction (the sender batches them)."""
        if not settlements:
            return
        now_ms = to_ms(now)
        async with self._write() as db:
            for s in settlements:
                if s.outcome is Outcome.SENT:
                    await db.execute(
                        "UPDATE outbox SET state = 'sent', lease_owner = NULL, sent_at = ?, "
                        "attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ?",
                        (now_ms, now_ms, s.row_id),
                    )
                elif s.outcome is Outcome.RETRY:
                    assert s.retry_at is not None
                    await db.execute(
                        "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = ?, "
                        "attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?",
                        (to_ms(s.retry_at), s.error, now_ms, s.row_id),
                    )
                else:
                    tried = 1 if s.outcome is Outcome.FAILED else 0
                    await db.execute(
                        "UPDATE outbox SET state = ?, lease_owner = NULL, "
                        "attempts = attempts + ?, last_error = ?, updated_at = ? WHERE id = ?",
                        (s.outcome.value, tried, s.error, now_ms, s.row_id),
                    )
                if s.suppress:
                    await db.execute(
                        "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (email) DO NOTHING",
                        (s.suppress.lower(), s.error or "permanent failure", now_ms),
                    )

    async def release_leases(self, owner: str, now: datetime) -> int:
        """Return this owner's leased rows to the queue (restart after a crash, or a clean stop)."""
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = ?, "
                "updated_at = ? WHERE state = 'sending' AND lease_owner = ?",
                (to_ms(now), to_ms(now), owner),
            )
            return int(cursor.rowcount)

    async def outbox_counts(self) -> dict[State, int]:
        rows = await self._read("SELECT state, count(*) FROM outbox GROUP BY state")
        counts = dict.fromkeys(State, 0)
        counts.update({State(r[0]): int(r[1]) for r in rows})
        return counts

    async def outbox_row(self, row_id: int) -> OutboxRow | None:
        rows = await self._read(f"SELECT {_ROW_COLUMNS} FROM outbox WHERE id = ?", (row_id,))
        return _outbox_row(rows[0]) if rows else None

    async def next_due(self) -> datetime | None:
        rows = await self._read(
            "SELECT min(due_at) FROM outbox WHERE state IN ('queued', 'sending')"
        )
        return from_ms(rows[0][0]) if rows and rows[0][0] is not None else None

    # suppressions -------------------------------------------------------------------------

    async def suppress(self, email: str, reason: str, now: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (email) DO NOTHING",
                (email.lower(), reason, to_ms(now)),
            )

    async def suppressed(self, emails: Iterable[str]) -> set[str]:
        wanted = sorted({e.lower() for e in emails})
        if not wanted:
            return set()
        rows = await self._read(
            f"SELECT email FROM suppressions WHERE email IN ({', '.join('?' * len(wanted))})",
            wanted,
        )
        return {str(r[0]) for r in rows}

    async def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """EXPLAIN QUERY PLAN details, for tests that pin the hot queries to their indexes."""
        rows = await self._read(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(r[3]) for r in rows]


def _outbox_row(r: Any) -> OutboxRow:
    return OutboxRow(
        id=int(r[0]),
        dedupe_key=r[1],
        kind=r[2],
        recipient=r[3],
        envelope_from=r[4],
        message_id=r[5],
        message=bytes(r[6]),
        state=State(r[7]),
        attempts=int(r[8]),
        last_error=r[9],
    )


def _statements(sql: str) -> list[str]:
    """Split a migration into statements (our migrations hold no `--` or `;` inside strings)."""
    code = "\n".join(line.split("--", 1)[0] for line in sql.splitlines())
    return [statement.strip() for statement in code.split(";") if statement.strip()]
