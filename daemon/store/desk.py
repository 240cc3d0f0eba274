"""The owner's working lists in the dashboard: every customer a page at a time (searched by
name, email, tag or external id), and the rewards waiting for the owner (approval or a code)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.rows import CUSTOMER_COLUMNS, PERSON, Customer, Person, customer_row, read

# A customer matches when the text is in their name, address or external id, or in one of
# their tags (case-insensitive); `{p}` is the LIKE pattern's placeholder.
_SQLITE_MATCH = (
    "(lower(coalesce(name, '')) LIKE {p} ESCAPE '\\' OR email LIKE {p} ESCAPE '\\' "
    "OR lower(coalesce(external_id, '')) LIKE {p} ESCAPE '\\' "
    "OR EXISTS (SELECT 1 FROM json_each(customers.tags) t "
    "WHERE lower(t.value) LIKE {p} ESCAPE '\\'))"
)
_PG_MATCH = (
    "(lower(coalesce(name, '')) LIKE {p} OR email LIKE {p} "
    "OR lower(coalesce(external_id, '')) LIKE {p} "
    "OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(customers.tags) t(v) "
    "WHERE lower(t.v) LIKE {p}))"
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


class DeskSQL(DB):
    async def customer_page(self, text: str, limit: int, offset: int) -> tuple[int, list[Customer]]:
        where = f"WHERE {_SQLITE_MATCH.format(p=':p')}" if text.strip() else ""
        params = {"p": pattern(text), "n": limit, "o": offset}
        total = await self._read(f"SELECT count(*) FROM customers {where}", params)
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers {where} {_ORDER} LIMIT :n OFFSET :o",
            params,
        )
        return int(total[0][0]), [customer_row(r) for r in rows]

    async def waiting_rewards(self, limit: int) -> tuple[int, list[WaitingReward]]:
        free = await self._read(_FREE_CODES)
        rows = await self._rows(WaitingReward, f"{_WAITING} LIMIT ?", (limit,))
        return int(free[0][0]), rows


class DeskPG(PGDB):
    """The owner's lists on PostgreSQL: the same calls."""

    async def customer_page(self, text: str, limit: int, offset: int) -> tuple[int, list[Customer]]:
        searched = bool(text.strip())
        where = f"WHERE {_PG_MATCH.format(p='$1')}" if searched else ""
        first = (pattern(text),) if searched else ()
        n = len(first)
        total = await self._read(f"SELECT count(*) FROM customers {where}", *first)
        rows = await self._read(
            f"SELECT {CUSTOMER_COLUMNS} FROM customers {where} {_ORDER} "
            f"LIMIT ${n + 1} OFFSET ${n + 2}",
            *first,
            limit,
            offset,
        )
        return int(total[0][0]), [customer_row(r) for r in rows]

    async def waiting_rewards(self, limit: int) -> tuple[int, list[WaitingReward]]:
        free = await self._read(_FREE_CODES)
        rows = await self._read(f"{_WAITING} LIMIT $1", limit)
        return int(free[0][0]), [read(WaitingReward, r) for r in rows]
