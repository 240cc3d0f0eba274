"""Work set aside: an item a sweep could not do, kept with its error for the owner to see.

Setting an item aside records the error and takes the item off its queue in one transaction,
so it is not retried every tick and does not hold up the items behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB, numbered
from daemon.store.rows import PERSON, SetAside, read
from daemon.store.webhooks import FACT_QUERIES

#: What takes each kind of item off its queue (`:item` its key, `:reason` the error). An item
#: stays where its queue left it otherwise: an invitation is skipped with the error as reason.
_OFF_QUEUE: dict[str, Sequence[str]] = {
    "event": ["UPDATE events SET processed_at = :at WHERE seq = :item AND processed_at IS NULL"],
    "survey": [
        "UPDATE invitations SET state = 'skipped', reason = :reason, reminder_at = NULL "
        "WHERE id = :item AND state = 'scheduled'"
    ],
    "reminder": ["UPDATE invitations SET reminder_at = NULL WHERE id = :item AND state = 'sent'"],
    "clicks": [
        "UPDATE clicks SET state = 'set aside' WHERE invitation_id = :item AND state = 'pending'"
    ],
    "complaint alert": ["UPDATE complaints SET alerted = 2 WHERE id = :item AND alerted = 0"],
    "waiting ask": [
        "UPDATE asks SET state = 'skipped', reason = :reason WHERE id = :item AND state = 'waiting'"
    ],
    "ask": [
        "UPDATE asks SET state = 'skipped', reason = :reason, due_at = NULL "
        "WHERE id = :item AND state = 'scheduled'"
    ],
    "referral note": ["UPDATE referrals SET notified = 1 WHERE id = :item"],
    "step note": ["UPDATE referral_steps SET notified = 1 WHERE id = :item"],
    "reward note": ["UPDATE rewards SET notified = 1 WHERE id = :item"],
    "webhook": [  # the item is the fact's id, "type:row"
        f"UPDATE {table} SET reported = 1 WHERE id = :row AND :type = '{kind}'"
        for kind, (table, _) in FACT_QUERIES.items()
    ],
    "digest": [],  # the item is the digest's dedupe key: digest.sweep asks `is_set_aside`
}

#: The same in PostgreSQL's types: keys are numbers, flags booleans.
_PG_OFF_QUEUE: dict[str, Sequence[str]] = {
    "event": [
        "UPDATE events SET processed_at = :at "
        "WHERE seq = :item::text::bigint AND processed_at IS NULL"
    ],
    "survey": [
        "UPDATE invitations SET state = 'skipped', reason = :reason, reminder_at = NULL "
        "WHERE id = :item::text::bigint AND state = 'scheduled'"
    ],
    "reminder": [
        "UPDATE invitations SET reminder_at = NULL "
        "WHERE id = :item::text::bigint AND state = 'sent'"
    ],
    "clicks": [
        "UPDATE clicks SET state = 'set aside' "
        "WHERE invitation_id = :item::text::bigint AND state = 'pending'"
    ],
    "complaint alert": [
        "UPDATE complaints SET alerted = 2 WHERE id = :item::text::bigint AND alerted = 0"
    ],
    "waiting ask": [
        "UPDATE asks SET state = 'skipped', reason = :reason "
        "WHERE id = :item::text::bigint AND state = 'waiting'"
    ],
    "ask": [
        "UPDATE asks SET state = 'skipped', reason = :reason, due_at = NULL "
        "WHERE id = :item::text::bigint AND state = 'scheduled'"
    ],
    "referral note": ["UPDATE referrals SET notified = TRUE WHERE id = :item::text::bigint"],
    "step note": ["UPDATE referral_steps SET notified = TRUE WHERE id = :item::text::bigint"],
    "reward note": ["UPDATE rewards SET notified = TRUE WHERE id = :item::text::bigint"],
    "webhook": [
        f"UPDATE {table} SET reported = TRUE "
        f"WHERE :type::text = '{kind}' AND id = :row::text::bigint"
        for kind, (table, _) in FACT_QUERIES.items()
    ],
    "digest": [],
}

# Each fact type: the table whose `reported` flag marks it, and the query for the unreported.
_ADVOCATE = "JOIN advocates a ON a.id = f.advocate_id JOIN customers c ON c.id = a.customer_id"


class SetAsides(Protocol):
    """Work set aside: items a sweep could not handle, kept for the owner to see."""

    async def set_aside(
        self, kind: str, item: str, customer_id: int | None, error: str, now: datetime
    ) -> None: ...
    async def is_set_aside(self, kind: str, item: str) -> bool: ...
    async def set_aside_items(
        self, limit: int, customer_id: int | None = None
    ) -> tuple[int, list[SetAside]]: ...


class SetAsideSQL(DB):
    async def set_aside(
        self, kind: str, item: str, customer_id: int | None, error: str, now: datetime
    ) -> None:
        """Record why `item` failed and take it off its queue; again, the newer error wins."""
        statements = _OFF_QUEUE[kind]
        params = {
            "item": item,
            "reason": f"set aside: {error}",
            "at": to_ms(now),
            "type": item.rpartition(":")[0],
            "row": item.rpartition(":")[2],
        }
        async with self._write() as db:
            await db.execute(
                "INSERT INTO set_aside (kind, item, customer_id, error, at) "
                "VALUES (:kind, :item, :customer_id, :error, :at) "
                "ON CONFLICT (kind, item) DO UPDATE SET error = excluded.error, at = excluded.at",
                {"kind": kind, "item": item, "customer_id": customer_id, "error": error, **params},
            )
            for sql in statements:
                await db.execute(sql, params)

    async def is_set_aside(self, kind: str, item: str) -> bool:
        rows = await self._read("SELECT 1 FROM set_aside WHERE kind = ? AND item = ?", (kind, item))
        return bool(rows)

    async def set_aside_items(
        self, limit: int, customer_id: int | None = None
    ) -> tuple[int, list[SetAside]]:
        """How many items are set aside (all, or one customer's), and the latest `limit`."""
        where, params = ("WHERE s.customer_id = ?", [customer_id]) if customer_id else ("", [])
        count = await self._read(f"SELECT count(*) FROM set_aside s {where}", params)
        rows = await self._read(
            f"SELECT s.kind, s.item, {PERSON}, s.error, s.at FROM set_aside s "
            f"LEFT JOIN customers c ON c.id = s.customer_id {where} "
            "ORDER BY s.at DESC, s.id DESC LIMIT ?",
            [*params, limit],
        )
        return int(count[0][0]), [read(SetAside, r) for r in rows]


class SetAsidePG(PGDB):
    """Work set aside on PostgreSQL: the same calls, in one transaction each."""

    async def set_aside(
        self, kind: str, item: str, customer_id: int | None, error: str, now: datetime
    ) -> None:
        """As SetAsideSQL.set_aside: recorded and off its queue at once; the newer error wins."""
        params = {
            "item": item,
            "reason": f"set aside: {error}",
            "at": now,
            "type": item.rpartition(":")[0],
            "row": item.rpartition(":")[2],
        }
        async with self._write() as db:
            await db.execute(
                "INSERT INTO set_aside (kind, item, customer_id, error, at) "
                "VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (kind, item) DO UPDATE SET error = excluded.error, at = excluded.at",
                kind,
                item,
                customer_id,
                error,
                now,
            )
            for statement in _PG_OFF_QUEUE[kind]:
                sql, args = numbered(statement, params)
                if kind == "webhook" and f"'{params['type']}'" not in statement:
                    continue  # another fact type's table: its id need not be a number
                await db.execute(sql, *args)

    async def is_set_aside(self, kind: str, item: str) -> bool:
        rows = await self._read("SELECT 1 FROM set_aside WHERE kind = $1 AND item = $2", kind, item)
        return bool(rows)

    async def set_aside_items(
        self, limit: int, customer_id: int | None = None
    ) -> tuple[int, list[SetAside]]:
        """As SetAsideSQL.set_aside_items."""
        where, params = ("WHERE s.customer_id = $1", [customer_id]) if customer_id else ("", [])
        count = await self._read(f"SELECT count(*) FROM set_aside s {where}", *params)
        rows = await self._read(
            f"SELECT s.kind, s.item, {PERSON}, s.error, s.at FROM set_aside s "
            f"LEFT JOIN customers c ON c.id = s.customer_id {where} "
            f"ORDER BY s.at DESC, s.id DESC LIMIT ${len(params) + 1}",
            *params,
            limit,
        )
        return int(count[0][0]), [read(SetAside, r) for r in rows]
