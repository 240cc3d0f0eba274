"""Work set aside: an item a sweep could not do, kept with its error for the owner to see.

Setting an item aside records the error and takes the item off its queue in one transaction,
so it is not retried every tick and does not hold up the items behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import PERSON, SetAside
from daemon.store.webhooks import FACT_QUERIES

#: What takes each kind of item off its queue: statements and the names of their parameters
#: ("item" its key, a number for these kinds; "reason" the error; "at" the time). An item stays
#: where its queue left it otherwise: an invitation is skipped with the error as reason.
_OFF_QUEUE: dict[str, Sequence[tuple[str, tuple[str, ...]]]] = {
    "event": [
        (
            "UPDATE events SET processed_at = ? WHERE seq = ? AND processed_at IS NULL",
            ("at", "item"),
        )
    ],
    "survey": [
        (
            "UPDATE invitations SET state = 'skipped', reason = ?, reminder_at = NULL "
            "WHERE id = ? AND state = 'scheduled'",
            ("reason", "item"),
        )
    ],
    "reminder": [
        ("UPDATE invitations SET reminder_at = NULL WHERE id = ? AND state = 'sent'", ("item",))
    ],
    "clicks": [
        (
            "UPDATE clicks SET state = 'set aside' WHERE invitation_id = ? AND state = 'pending'",
            ("item",),
        )
    ],
    "complaint alert": [
        ("UPDATE complaints SET alerted = 2 WHERE id = ? AND alerted = 0", ("item",))
    ],
    "waiting ask": [
        (
            "UPDATE asks SET state = 'skipped', reason = ? WHERE id = ? AND state = 'waiting'",
            ("reason", "item"),
        )
    ],
    "ask": [
        (
            "UPDATE asks SET state = 'skipped', reason = ?, due_at = NULL "
            "WHERE id = ? AND state = 'scheduled'",
            ("reason", "item"),
        )
    ],
    "review ask": [
        (
            "UPDATE review_asks SET state = 'skipped', reason = ?, due_at = NULL "
            "WHERE id = ? AND state = 'scheduled'",
            ("reason", "item"),
        )
    ],
    "referral note": [("UPDATE referrals SET notified = TRUE WHERE id = ?", ("item",))],
    "step note": [("UPDATE referral_steps SET notified = TRUE WHERE id = ?", ("item",))],
    "reward note": [("UPDATE rewards SET notified = TRUE WHERE id = ?", ("item",))],
    # the item is the fact's id, "type:row": its type's table (webhooks.FACT_QUERIES) is marked
    "webhook": [],
    "digest": [],  # the item is the digest's dedupe key: digest.sweep asks `is_set_aside`
}


class SetAsides(Protocol):
    """Work set aside: items a sweep could not handle, kept for the owner to see."""

    async def set_aside(
        self, kind: str, item: str, customer_id: int | None, error: str, now: datetime
    ) -> None: ...
    async def is_set_aside(self, kind: str, item: str) -> bool: ...
    async def set_aside_items(
        self, limit: int, customer_id: int | None = None
    ) -> tuple[int, list[SetAside]]: ...


class SetAsideQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def set_aside(
        self, kind: str, item: str, customer_id: int | None, error: str, now: datetime
    ) -> None:
        """Record why `item` failed and take it off its queue; again, the newer error wins."""
        statements = list(_OFF_QUEUE[kind])
        params: dict[str, Any] = {"item": _key(item), "reason": f"set aside: {error}", "at": now}
        fact, _, row = item.rpartition(":")
        if kind == "webhook" and fact in FACT_QUERIES:
            table = FACT_QUERIES[fact][0]
            statements = [(f"UPDATE {table} SET reported = TRUE WHERE id = ?", ("item",))]
            params["item"] = _key(row)
        async with self._tx() as tx:
            await tx.execute(
                "INSERT INTO set_aside (kind, item, customer_id, error, at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (kind, item) DO UPDATE SET error = excluded.error, at = excluded.at",
                kind,
                item,
                customer_id,
                error,
                now,
            )
            for sql, names in statements:
                await tx.execute(sql, *(params[name] for name in names))

    async def is_set_aside(self, kind: str, item: str) -> bool:
        rows = await self._fetch("SELECT 1 FROM set_aside WHERE kind = ? AND item = ?", kind, item)
        return bool(rows)

    async def set_aside_items(
        self, limit: int, customer_id: int | None = None
    ) -> tuple[int, list[SetAside]]:
        """How many items are set aside (all, or one customer's), and the latest `limit`."""
        where, params = ("WHERE s.customer_id = ?", [customer_id]) if customer_id else ("", [])
        count = await self._value(f"SELECT count(*) FROM set_aside s {where}", *params)
        items = await self._list(
            SetAside,
            f"SELECT s.kind, s.item, {PERSON}, s.error, s.at FROM set_aside s "
            f"LEFT JOIN customers c ON c.id = s.customer_id {where} "
            "ORDER BY s.at DESC, s.id DESC LIMIT ?",
            *params,
            limit,
        )
        return int(count), items


class SetAsideSQL(SetAsideQueries, DB):
    pass


class SetAsidePG(SetAsideQueries, PGDB):
    """Work set aside on PostgreSQL: the same calls, in one transaction each."""


def _key(item: str) -> int | str:
    """An item's key as its queue's table keeps it: a row's number (PostgreSQL compares a
    bigint with a number only)."""
    return int(item) if item.isdigit() else item
