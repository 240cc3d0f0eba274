"""The owner's working lists in the dashboard: every customer a page at a time (searched by
name, email, tag or external id), and the rewards waiting for the owner (approval or a code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import CUSTOMER_COLUMNS, PERSON, Customer, Person, customer_row

# A customer matches when the text is in their name, address or external id, or in one of
# their tags (case-insensitive); `{tags}` is the dialect's table of a JSON array's items.
_MATCH = (
    "(lower(coalesce(name, '')) LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' "
    "OR lower(coalesce(external_id, '')) LIKE ? ESCAPE '\\' "
    "OR EXISTS (SELECT 1 FROM {tags} WHERE lower(t.value) LIKE ? ESCAPE '\\'))"
)
_ORDER = "ORDER BY lower(coalesce(name, email)), id"
_WAITING = f"""
    SELECT r.public_id, w.description, w.state, w.created_at, r.friend_name, {PERSON}
    FROM rewards w JOIN referrals r ON r.id = w.referral_id
    JOIN advocates a ON a.id = w.advocate_id JOIN customers c ON c.id = a.customer_id
    WHERE w.state IN ('awaiting_approval', 'awaiting_code') ORDER BY w.created_at, w.id
"""
_FREE_CODES = "SELECT count(*) FROM reward_codes WHERE reward_id IS NULL"


@dataclass(frozen=True)
class WaitingReward:
    """A won referral's reward the owner must approve, or that waits for a code from the pool."""

    referral: str  # the referral's public id (r_...)
    description: str
    state: str  # awaiting_approval, awaiting_code
    since: datetime
    friend_name: str | None
    advocate: Person


class Desk(Protocol):
    async def customer_page(self, text: str, limit: int, offset: int) -> tuple[int, list[Customer]]:
        """How many customers match `text` (all for ""), and one page of them by name."""

    async def waiting_rewards(self, limit: int) -> tuple[int, list[WaitingReward]]:
        """The rewards waiting for the owner, oldest first; and the unused codes in the pool."""


def pattern(text: str) -> str:
    """A LIKE pattern for `text` anywhere, its own % _ and \\ taken literally."""
    needle = text.strip().lower()
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class DeskQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def customer_page(self, text: str, limit: int, offset: int) -> tuple[int, list[Customer]]:
        searched = bool(text.strip())
        match = _MATCH.format(tags=self._json_items("customers.tags", "t"))
        where = f"WHERE {match}" if searched else ""
        first = (pattern(text),) * 4 if searched else ()
        async with self._snapshot() as tx:
            total = await tx.fetchval(f"SELECT count(*) FROM customers {where}", *first)
            rows = await tx.fetch(
                f"SELECT {CUSTOMER_COLUMNS} FROM customers {where} {_ORDER} LIMIT ? OFFSET ?",
                *first,
                limit,
                offset,
            )
        return int(total), [customer_row(r) for r in rows]

    async def waiting_rewards(self, limit: int) -> tuple[int, list[WaitingReward]]:
        free = await self._value(_FREE_CODES)
        return int(free), await self._list(WaitingReward, f"{_WAITING} LIMIT ?", limit)


class DeskSQL(DeskQueries, DB):
    pass


class DeskPG(DeskQueries, PGDB):
    pass
