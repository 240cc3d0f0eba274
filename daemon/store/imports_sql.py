"""Customers from an owner's file (`vouch import customers`), a batch a transaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from daemon.intake.events import CustomerIn
from daemon.store.db import DB
from daemon.store.events_sql import UPSERT_CUSTOMER, upsert_params

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


class ImportsSQL(DB):
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
