"""Referral asks: planned at a moment, held back, sent."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import AskRow, NewAsk, as_time, read

_ASK = "id, customer_id, moment, source, state, reason, due_at, created_at"


class Asks(Protocol):
    """Referral asks: what the engine needs to decide one, and each ask's state."""

    async def ask_facts(
        self, customer_id: int
    ) -> tuple[str | None, int, tuple[int, datetime] | None, list[datetime]]: ...
    async def add_ask(self, ask: NewAsk, now: datetime) -> int | None:
        """Record a moment's decision; None when this moment was considered before."""

    async def update_ask(
        self, ask_id: int, *, state: str, reason: str | None, due_at: datetime | None
    ) -> None: ...
    async def ask_sent(self, ask_id: int, at: datetime) -> None: ...
    async def due_asks(self, now: datetime, limit: int) -> list[AskRow]: ...
    async def waiting_asks(self, now: datetime, limit: int) -> list[tuple[AskRow, bool]]: ...
    async def asks_of(self, customer_id: int) -> list[AskRow]: ...
    async def asks_planned_before(self, before: datetime, limit: int) -> list[AskRow]: ...
    async def asks_sent_between(self, start: datetime, end: datetime) -> int: ...


class AsksQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects (an address's hash is each
    layer's `_sha256`)."""

    async def ask_facts(
        self, customer_id: int
    ) -> tuple[str | None, int, tuple[int, datetime] | None, list[datetime]]:
        """(suppression reason, open complaints, latest score, asks sent or scheduled)."""
        rows = await self._fetch(
            f"""
            SELECT
              (SELECT s.reason FROM suppressions s JOIN customers c
               ON s.email IN (c.email, 'sha256:' || {self._sha256("c.email")}) WHERE c.id = ?),
              (SELECT count(*) FROM complaints WHERE customer_id = ? AND state = 'open'),
              (SELECT score FROM responses WHERE customer_id = ?
               ORDER BY answered_at DESC LIMIT 1),
              (SELECT answered_at FROM responses WHERE customer_id = ?
               ORDER BY answered_at DESC LIMIT 1)
            """,
            *[customer_id] * 4,
        )
        reason, complaints, score, answered = rows[0]
        asks = await self._fetch(
            "SELECT coalesce(sent_at, due_at) FROM asks WHERE customer_id = ? "
            "AND state IN ('scheduled', 'sent')",
            customer_id,
        )
        latest = (int(score), as_time(answered)) if score is not None else None
        return reason, int(complaints), latest, [as_time(r[0]) for r in asks]

    async def add_ask(self, ask: NewAsk, now: datetime) -> int | None:
        rows = await self._write_rows(
            "INSERT INTO asks (customer_id, moment, source, state, reason, due_at, expires_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (moment, source) DO NOTHING RETURNING id",
            ask.customer_id,
            ask.moment,
            ask.source,
            ask.state,
            ask.reason,
            ask.due_at,
            ask.expires_at,
            now,
        )
        return int(rows[0][0]) if rows else None

    async def update_ask(
        self, ask_id: int, *, state: str, reason: str | None, due_at: datetime | None
    ) -> None:
        await self._apply(
            "UPDATE asks SET state = ?, reason = ?, due_at = ? WHERE id = ?",
            state,
            reason,
            due_at,
            ask_id,
        )

    async def ask_sent(self, ask_id: int, at: datetime) -> None:
        await self._apply(
            "UPDATE asks SET state = 'sent', sent_at = ? WHERE id = ? AND state = 'scheduled'",
            at,
            ask_id,
        )

    async def due_asks(self, now: datetime, limit: int) -> list[AskRow]:
        return await self._list(
            AskRow,
            f"SELECT {_ASK} FROM asks WHERE state = 'scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            now,
            limit,
        )

    async def waiting_asks(self, now: datetime, limit: int) -> list[tuple[AskRow, bool]]:
        """Waiting asks whose customer has answered since, or whose wait ran out (True)."""
        rows = await self._fetch(
            f"""
            SELECT {", ".join("a." + c.strip() for c in _ASK.split(","))}, a.expires_at <= ?
            FROM asks a WHERE a.state = 'waiting' AND (
                a.expires_at <= ? OR EXISTS (
                    SELECT 1 FROM responses r
                    WHERE r.customer_id = a.customer_id AND r.answered_at >= a.created_at))
            ORDER BY a.id LIMIT ?
            """,
            now,
            now,
            limit,
        )
        return [(read(AskRow, r), bool(r[8])) for r in rows]

    async def asks_of(self, customer_id: int) -> list[AskRow]:
        return await self._list(
            AskRow, f"SELECT {_ASK} FROM asks WHERE customer_id = ? ORDER BY id", customer_id
        )

    async def asks_planned_before(self, before: datetime, limit: int) -> list[AskRow]:
        """Scheduled asks due before `before` (the end of today), for the daily cap to rank."""
        return await self._list(
            AskRow,
            f"SELECT {_ASK} FROM asks WHERE state = 'scheduled' AND due_at < ? "
            "ORDER BY due_at LIMIT ?",
            before,
            limit,
        )

    async def asks_sent_between(self, start: datetime, end: datetime) -> int:
        return int(
            await self._value(
                "SELECT count(*) FROM asks WHERE state = 'sent' AND sent_at >= ? AND sent_at < ?",
                start,
                end,
            )
        )


class AsksSQL(AsksQueries, DB):
    pass


class AsksPG(AsksQueries, PGDB):
    """Referral asks on PostgreSQL: the same calls."""
