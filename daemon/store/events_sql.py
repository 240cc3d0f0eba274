"""Events and customers."""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from daemon.clock import to_ms
from daemon.events import EventIn
from daemon.store._sql import SQL
from daemon.store.base import Customer, EventOutcome, Recorded

CUSTOMER_COLUMNS = "id, email, name, external_id, timezone, locale, tags, public_id"


def customer_row(r: Any) -> Customer:
    return Customer(r[0], r[1], r[2], r[3], r[4], r[5], tuple(json.loads(r[6])), r[7])


class EventsSQL(SQL):
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
                        secrets.token_hex(16),
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

    async def event_counts(self) -> dict[str, int]:
        rows = await self._read("SELECT type, count(*) FROM events GROUP BY type")
        return {str(r[0]): int(r[1]) for r in rows}
