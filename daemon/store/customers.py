"""Customers: found by address, id or public id, imported in bulk, and their history."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.clock import from_ms, to_ms
from daemon.intake.events import CustomerIn
from daemon.store.db import DB, jsonable, records
from daemon.store.pgdb import PGDB, numbered
from daemon.store.rows import CUSTOMER_COLUMNS, Customer, HistoryLine, customer_row

# An event's customer: an empty value keeps what is stored.
UPSERT_CUSTOMER = """
    INSERT INTO customers (email, name, external_id, timezone, locale, tags,
                           created_at, updated_at, public_id)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (email) DO UPDATE SET
        name = coalesce(excluded.name, name),
        external_id = coalesce(excluded.external_id, external_id),
        timezone = coalesce(excluded.timezone, timezone),
        locale = coalesce(excluded.locale, locale),
        tags = CASE WHEN excluded.tags = '[]' THEN tags ELSE excluded.tags END,
        updated_at = excluded.updated_at
"""

# The same merge as an event's customer, but a row that would change nothing is left alone,
# so importing a file again touches nothing.
_UPSERT = (
    UPSERT_CUSTOMER
    + """
    WHERE coalesce(excluded.name, name) IS NOT name
       OR coalesce(excluded.external_id, external_id) IS NOT external_id
       OR coalesce(excluded.timezone, timezone) IS NOT timezone
       OR coalesce(excluded.locale, locale) IS NOT locale
       OR (excluded.tags != '[]' AND excluded.tags IS NOT tags)
"""
)

#: The same two in PostgreSQL: `$n` parameters, tags as jsonb, "changes nothing" as IS DISTINCT.
PG_UPSERT_CUSTOMER = """
    INSERT INTO customers (email, name, external_id, timezone, locale, tags,
                           created_at, updated_at, public_id)
    VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9)
    ON CONFLICT (email) DO UPDATE SET
        name = coalesce(excluded.name, customers.name),
        external_id = coalesce(excluded.external_id, customers.external_id),
        timezone = coalesce(excluded.timezone, customers.timezone),
        locale = coalesce(excluded.locale, customers.locale),
        tags = CASE WHEN excluded.tags = '[]'::jsonb THEN customers.tags ELSE excluded.tags END,
        updated_at = excluded.updated_at
"""
_PG_UPSERT = (
    PG_UPSERT_CUSTOMER
    + """
    WHERE coalesce(excluded.name, customers.name) IS DISTINCT FROM customers.name
       OR coalesce(excluded.external_id, customers.external_id)
          IS DISTINCT FROM customers.external_id
       OR coalesce(excluded.timezone, customers.timezone) IS DISTINCT FROM customers.timezone
       OR coalesce(excluded.locale, customers.locale) IS DISTINCT FROM customers.locale
       OR (excluded.tags != '[]'::jsonb AND excluded.tags IS DISTINCT FROM customers.tags)
"""
)


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


class CustomersSQL(DB):
    async def customer_by_email(self, email: str) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = ?", (email.lower(),)
        )
        return customer_row(rows[0]) if rows else None

    async def ensure_customer(self, email: str, now: datetime) -> Customer:
        """The customer with this address, created bare if new (a response from elsewhere)."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO customers (email, created_at, updated_at, public_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                (email.lower(), to_ms(now), to_ms(now), secrets.token_hex(16)),
            )
            cursor = await db.execute(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = ?", (email.lower(),)
            )
            row = await cursor.fetchone()
        assert row is not None
        return customer_row(row)

    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]:
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id IN ({', '.join('?' * len(ids))})",
            ids,
        )
        return {int(r[0]): customer_row(r) for r in rows}

    async def customer(self, customer_id: int) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ?", (customer_id,)
        )
        return customer_row(rows[0]) if rows else None

    async def customer_by_public_id(self, public_id: str) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE public_id = ?", (public_id,)
        )
        return customer_row(rows[0]) if rows else None

    async def import_customers(
        self, customers: Sequence[CustomerIn], now: datetime
    ) -> tuple[int, int]:
        """Add or update customers (each address once in the batch); returns (new, updated)."""
        emails = [c.email.lower() for c in customers]
        if not emails:
            return 0, 0
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"SELECT count(*) FROM customers WHERE email IN ({', '.join('?' * len(emails))})",
                emails,
            )
            known = int(next(iter(rows))[0])
            cursor = await db.executemany(
                _UPSERT,
                [upsert_params(c, now) for c in customers],
            )
            changed = cursor.rowcount  # inserted plus updated; unchanged rows are not counted
        return len(emails) - known, changed - (len(emails) - known)

    async def customer_overview(self, customer_id: int) -> dict[str, Any]:
        """The customer's recent facts, by kind, for `GET /v1/customers/{email}`."""
        async with self._reading() as db:
            return {name: await records(db, sql, {"c": customer_id}) for name, sql in _OVERVIEW}

    async def customer_history(self, customer_id: int, limit: int) -> list[HistoryLine]:
        """What happened with this customer, newest first: events, surveys, answers."""
        rows = await self._read(
            """
            SELECT at, what FROM (
                SELECT occurred_at AS at, 'event ' || type AS what FROM events
                WHERE customer_id = :c
                UNION ALL
                SELECT sent_at, 'survey ' || survey || ' sent' FROM invitations
                WHERE customer_id = :c AND sent_at IS NOT NULL
                UNION ALL
                SELECT answered_at, 'answered ' || score || ' (' || segment || ') to ' || survey
                       || coalesce(': "' || comment || '"', '')
                FROM responses WHERE customer_id = :c
                UNION ALL
                SELECT opened_at, 'complaint opened' FROM complaints WHERE customer_id = :c
                UNION ALL
                SELECT resolved_at, 'complaint resolved: ' || coalesce(resolution, '')
                FROM complaints WHERE customer_id = :c AND resolved_at IS NOT NULL
            ) ORDER BY at DESC LIMIT :n
            """,
            {"c": customer_id, "n": limit},
        )
        return [HistoryLine(from_ms(r[0]), str(r[1])) for r in rows]


class CustomersPG(PGDB):
    """Customers on PostgreSQL: the same calls and answers (times come back as datetimes)."""

    async def customer_by_email(self, email: str) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = $1", email.lower()
        )
        return customer_row(rows[0]) if rows else None

    async def ensure_customer(self, email: str, now: datetime) -> Customer:
        """As CustomersSQL.ensure_customer; two processes creating one address make one row."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO customers (email, created_at, updated_at, public_id) "
                "VALUES ($1, $2, $2, $3) ON CONFLICT (email) DO NOTHING",
                email.lower(),
                now,
                secrets.token_hex(16),
            )
            row = await db.fetchrow(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE email = $1", email.lower()
            )
        assert row is not None
        return customer_row(row)

    async def customers(self, customer_ids: Iterable[int]) -> dict[int, Customer]:
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = ANY($1::bigint[])", ids
        )
        return {int(r[0]): customer_row(r) for r in rows}

    async def customer(self, customer_id: int) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1", customer_id
        )
        return customer_row(rows[0]) if rows else None

    async def customer_by_public_id(self, public_id: str) -> Customer | None:
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers WHERE public_id = $1", public_id
        )
        return customer_row(rows[0]) if rows else None

    async def import_customers(
        self, customers: Sequence[CustomerIn], now: datetime
    ) -> tuple[int, int]:
        """As CustomersSQL.import_customers: (new, updated); an unchanged row is not counted.
        One statement a row, as asyncpg's executemany tells no row counts."""
        emails = [c.email.lower() for c in customers]
        if not emails:
            return 0, 0
        async with self._write() as db:
            known = int(
                await db.fetchval(
                    "SELECT count(*) FROM customers WHERE email = ANY($1::text[])", emails
                )
            )
            changed = 0
            # in email order, as events' batches upsert theirs, so the two never deadlock
            for c in sorted(customers, key=lambda c: c.email.lower()):
                status = await db.execute(_PG_UPSERT, *pg_upsert_params(c, now))
                changed += int(status.rsplit(" ", 1)[1])  # "INSERT 0 <rows>"
        return len(emails) - known, changed - (len(emails) - known)

    async def customer_overview(self, customer_id: int) -> dict[str, Any]:
        """As CustomersSQL.customer_overview, in one transaction's snapshot."""
        overview: dict[str, Any] = {}
        async with self._write() as db:
            for name, statement in _OVERVIEW:
                sql, args = numbered(statement, {"c": customer_id})
                overview[name] = [
                    {column: jsonable(column, value) for column, value in row.items()}
                    for row in await db.fetch(sql, *args)
                ]
        return overview

    async def customer_history(self, customer_id: int, limit: int) -> list[HistoryLine]:
        """As CustomersSQL.customer_history."""
        sql, args = numbered(
            """
            SELECT at, what FROM (
                SELECT occurred_at AS at, 'event ' || type AS what FROM events
                WHERE customer_id = :c
                UNION ALL
                SELECT sent_at, 'survey ' || survey || ' sent' FROM invitations
                WHERE customer_id = :c AND sent_at IS NOT NULL
                UNION ALL
                SELECT answered_at, 'answered ' || score || ' (' || segment || ') to ' || survey
                       || coalesce(': "' || comment || '"', '')
                FROM responses WHERE customer_id = :c
                UNION ALL
                SELECT opened_at, 'complaint opened' FROM complaints WHERE customer_id = :c
                UNION ALL
                SELECT resolved_at, 'complaint resolved: ' || coalesce(resolution, '')
                FROM complaints WHERE customer_id = :c AND resolved_at IS NOT NULL
            ) AS history ORDER BY at DESC LIMIT :n
            """,
            {"c": customer_id, "n": limit},
        )
        return [HistoryLine(r[0], str(r[1])) for r in await self._read(sql, *args)]


_OVERVIEW = (
    (
        "events",
        "SELECT id, type, occurred_at FROM events WHERE customer_id = :c "
        "ORDER BY occurred_at DESC LIMIT 100",
    ),
    (
        "surveys",
        "SELECT survey, state, reason, due_at, sent_at, expires_at FROM invitations "
        "WHERE customer_id = :c ORDER BY id DESC LIMIT 100",
    ),
    (
        "responses",
        "SELECT survey, score, segment, comment, source, answered_at FROM responses "
        "WHERE customer_id = :c ORDER BY answered_at DESC LIMIT 100",
    ),
    (
        "complaints",
        "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
        "WHERE customer_id = :c ORDER BY id DESC",
    ),
    (
        "asks",
        "SELECT moment, state, reason, due_at, sent_at FROM asks WHERE customer_id = :c "
        "ORDER BY id DESC LIMIT 100",
    ),
    (
        "referrals",
        "SELECT r.public_id AS id, r.friend_name AS friend, r.grade, r.status, r.value, r.flag, "
        "r.created_at FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
        "WHERE a.customer_id = :c ORDER BY r.id DESC",
    ),
    (
        "replies",
        "SELECT verdict, explanation AS why, text, received_at FROM replies "
        "WHERE customer_id = :c ORDER BY id DESC LIMIT 50",
    ),
    (
        "emails",
        "SELECT kind, state, last_error, sent_at, created_at AS queued_at FROM outbox "
        "WHERE customer_id = :c ORDER BY id DESC LIMIT 100",
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
        to_ms(now),
        to_ms(now),
        secrets.token_hex(16),
    )


def pg_upsert_params(customer: CustomerIn, now: datetime) -> tuple[object, ...]:
    """PG_UPSERT_CUSTOMER's parameters: upsert_params with times as datetimes."""
    params = upsert_params(customer, now)
    return (*params[:6], now, now, params[8])
