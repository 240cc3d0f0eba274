"""Customers: found by address, id or public id, imported in bulk, and their history."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.intake.events import CustomerIn
from daemon.store.db import DB, ms
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import CUSTOMER_COLUMNS, Customer, HistoryLine, customer_row

# An event's customer: an empty value keeps what is stored (one text for both dialects).
UPSERT_CUSTOMER = """
    INSERT INTO customers (email, name, external_id, timezone, locale, tags,
                           created_at, updated_at, public_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (email) DO UPDATE SET
        name = coalesce(excluded.name, customers.name),
        external_id = coalesce(excluded.external_id, customers.external_id),
        timezone = coalesce(excluded.timezone, customers.timezone),
        locale = coalesce(excluded.locale, customers.locale),
        tags = CASE WHEN excluded.tags = '[]' THEN customers.tags ELSE excluded.tags END,
        updated_at = excluded.updated_at
"""

# The same merge as an event's customer, but a row that would change nothing is left alone,
# so importing a file again touches nothing. "Changes nothing" is SQLite's null-safe IS NOT
# (its IS DISTINCT FROM is too new: 3.39) and PostgreSQL's IS DISTINCT FROM.
_CHANGED = """
    WHERE coalesce(excluded.name, name) IS NOT name
       OR coalesce(excluded.external_id, external_id) IS NOT external_id
       OR coalesce(excluded.timezone, timezone) IS NOT timezone
       OR coalesce(excluded.locale, locale) IS NOT locale
       OR (excluded.tags != '[]' AND excluded.tags IS NOT tags)
"""
_PG_CHANGED = """
    WHERE coalesce(excluded.name, customers.name) IS DISTINCT FROM customers.name
       OR coalesce(excluded.external_id, customers.external_id)
          IS DISTINCT FROM customers.external_id
       OR coalesce(excluded.timezone, customers.timezone) IS DISTINCT FROM customers.timezone
       OR coalesce(excluded.locale, customers.locale) IS DISTINCT FROM customers.locale
       OR (excluded.tags != '[]' AND excluded.tags IS DISTINCT FROM customers.tags)
"""


class Customers(Protocol):
    """The customers: who they are (by address, id or public id), created bare when an answer
    comes from elsewhere, imported by `vouch import`, and what happened to each."""

    async def customer_by_email(self, email: str) -> Customer | None: ...
    async def ensure_customer(self, email: str, now: datetime) -> Customer: ...
    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]: ...
    async def customer(self, customer_id: int) -> Customer | None: ...
    async def customer_by_public_id(self, public_id: str) -> Customer | None: ...
    async def import_customers(
        self, customers: Sequence[CustomerIn], now: datetime
    ) -> tuple[int, int]: ...
    async def customer_overview(self, customer_id: int) -> dict[str, Any]: ...
    async def customer_history(self, customer_id: int, limit: int) -> list[HistoryLine]: ...


class CustomersQueries(Queries):
    """Both halves' calls but the import (see each half)."""

    async def customer_by_email(self, email: str) -> Customer | None:
        return await self._customer("email = ?", email.lower())

    async def ensure_customer(self, email: str, now: datetime) -> Customer:
        """The customer with this address, created bare if new (a response from elsewhere);
        two processes creating one address make one row."""
        async with self._tx() as tx:
            await tx.execute(
                "INSERT INTO customers (email, created_at, updated_at, public_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                email.lower(),
                now,
                now,
                secrets.token_hex(16),
            )
            row = await tx.fetchrow(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = ?", email.lower()
            )
        assert row is not None
        return customer_row(row)

    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]:
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        among, params = self._in(ids)
        rows = await self._fetch(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id {among}", *params
        )
        return {int(r[0]): customer_row(r) for r in rows}

    async def customer(self, customer_id: int) -> Customer | None:
        return await self._customer("id = ?", customer_id)

    async def customer_by_public_id(self, public_id: str) -> Customer | None:
        return await self._customer("public_id = ?", public_id)

    async def _customer(self, where: str, value: Any) -> Customer | None:
        rows = await self._fetch(f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE {where}", value)
        return customer_row(rows[0]) if rows else None

    async def customer_overview(self, customer_id: int) -> dict[str, Any]:
        """The customer's recent facts, by kind, for `GET /v1/customers/{email}`."""
        async with self._snapshot() as tx:
            return {name: await tx.records(sql, customer_id) for name, sql in _OVERVIEW}

    async def customer_history(self, customer_id: int, limit: int) -> list[HistoryLine]:
        """What happened with this customer, newest first: events, surveys, answers."""
        return await self._list(
            HistoryLine,
            """
            SELECT at, what FROM (
                SELECT occurred_at AS at, 'event ' || type AS what FROM events
                WHERE customer_id = ?
                UNION ALL
                SELECT sent_at, 'survey ' || survey || ' sent' FROM invitations
                WHERE customer_id = ? AND sent_at IS NOT NULL
                UNION ALL
                SELECT answered_at, 'answered ' || score || ' (' || segment || ') to ' || survey
                       || coalesce(': "' || comment || '"', '')
                FROM responses WHERE customer_id = ?
                UNION ALL
                SELECT opened_at, 'complaint opened' FROM complaints WHERE customer_id = ?
                UNION ALL
                SELECT resolved_at, 'complaint resolved: ' || coalesce(resolution, '')
                FROM complaints WHERE customer_id = ? AND resolved_at IS NOT NULL
            ) AS history ORDER BY at DESC LIMIT ?
            """,
            *[customer_id] * 5,
            limit,
        )


class CustomersSQL(CustomersQueries, DB):
    async def import_customers(
        self, customers: Sequence[CustomerIn], now: datetime
    ) -> tuple[int, int]:
        """Add or update customers (each address once in the batch); returns (new, updated).
        One executemany: SQLite counts the rows it changed (an unchanged row is not counted)."""
        emails = [c.email.lower() for c in customers]
        if not emails:
            return 0, 0
        among, params = self._in(emails)
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"SELECT count(*) FROM customers WHERE email {among}", params
            )
            known = int(next(iter(rows))[0])
            cursor = await db.executemany(
                UPSERT_CUSTOMER + _CHANGED, [ms(upsert_params(c, now)) for c in customers]
            )
            changed = cursor.rowcount  # inserted plus updated; unchanged rows are not counted
        return len(emails) - known, changed - (len(emails) - known)


class CustomersPG(CustomersQueries, PGDB):
    """Customers on PostgreSQL: the same calls and answers (times come back as datetimes)."""

    async def import_customers(
        self, customers: Sequence[CustomerIn], now: datetime
    ) -> tuple[int, int]:
        """As CustomersSQL.import_customers: (new, updated); an unchanged row is not counted.
        One statement a row, as asyncpg's executemany tells no row counts."""
        emails = [c.email.lower() for c in customers]
        if not emails:
            return 0, 0
        among, params = self._in(emails)
        async with self._tx() as tx:
            known = int(
                await tx.fetchval(f"SELECT count(*) FROM customers WHERE email {among}", *params)
            )
            changed = 0
            # in email order, as events' batches upsert theirs, so the two never deadlock
            for c in sorted(customers, key=lambda c: c.email.lower()):
                changed += await tx.execute(UPSERT_CUSTOMER + _PG_CHANGED, *upsert_params(c, now))
        return len(emails) - known, changed - (len(emails) - known)


_OVERVIEW = (
    (
        "events",
        "SELECT id, type, occurred_at FROM events WHERE customer_id = ? "
        "ORDER BY occurred_at DESC LIMIT 100",
    ),
    (
        "surveys",
        "SELECT survey, state, reason, due_at, sent_at, expires_at FROM invitations "
        "WHERE customer_id = ? ORDER BY id DESC LIMIT 100",
    ),
    (
        "responses",
        "SELECT survey, score, segment, comment, source, answered_at FROM responses "
        "WHERE customer_id = ? ORDER BY answered_at DESC LIMIT 100",
    ),
    (
        "complaints",
        "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
        "WHERE customer_id = ? ORDER BY id DESC",
    ),
    (
        "asks",
        "SELECT moment, state, reason, due_at, sent_at FROM asks WHERE customer_id = ? "
        "ORDER BY id DESC LIMIT 100",
    ),
    (
        "referrals",
        "SELECT r.public_id AS id, r.friend_name AS friend, r.grade, r.status, r.value, r.flag, "
        "r.created_at FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
        "WHERE a.customer_id = ? ORDER BY r.id DESC",
    ),
    (
        "replies",
        "SELECT verdict, explanation AS why, text, received_at FROM replies "
        "WHERE customer_id = ? ORDER BY id DESC LIMIT 50",
    ),
    (
        "emails",
        "SELECT kind, state, last_error, sent_at, created_at AS queued_at FROM outbox "
        "WHERE customer_id = ? ORDER BY id DESC LIMIT 100",
    ),
)


def upsert_params(customer: CustomerIn, now: datetime) -> tuple[object, ...]:
    """UPSERT_CUSTOMER's parameters for an event's (or an import's) customer."""
    c = customer
    return (
        c.email.lower(),
        c.name,
        c.external_id,
        c.timezone,
        c.locale,
        json.dumps(sorted(set(c.tags))),
        now,
        now,
        secrets.token_hex(16),
    )
