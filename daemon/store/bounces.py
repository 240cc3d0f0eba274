"""Bounces and complaints that arrive as mail (DSNs and ARF reports)."""

from __future__ import annotations

from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import Bounce

# One undelivered email counts once: a "delayed" warning and the final failure of the same
# original message are one soft bounce; reports that name no original message count one each.
_SOFT_COUNT = (
    "SELECT count(DISTINCT coalesce(original_message_id, 'report:' || id)) FROM bounces "
    "WHERE email = ? AND kind = 'soft_bounce'"
)


class Bounces(Protocol):
    """Bounces and complaints that arrived as mail, one per address and kind."""

    async def record_bounce(self, bounce: Bounce, dedupe: str) -> int:
        """Record one recipient's bounce or complaint (a report seen before, by its `dedupe`
        key, is not recorded twice) and return the soft bounces counted for that address."""

    async def soft_bounces(self, email: str) -> int: ...
    async def bounces_of(self, email: str) -> list[Bounce]: ...


class BouncesQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def record_bounce(self, bounce: Bounce, dedupe: str) -> int:
        b, address = bounce, bounce.email.lower()
        async with self._tx() as tx:
            await tx.execute(
                "INSERT INTO bounces (email, kind, status, diagnostic, original_message_id, "
                "dedupe, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dedupe, email) DO NOTHING",
                address,
                b.kind,
                b.status,
                b.diagnostic,
                b.original_message_id,
                dedupe,
                b.received_at,
            )
            return int(await tx.fetchval(_SOFT_COUNT, address))

    async def soft_bounces(self, email: str) -> int:
        return int(await self._value(_SOFT_COUNT, email.lower()))

    async def bounces_of(self, email: str) -> list[Bounce]:
        return await self._list(
            Bounce,
            "SELECT email, kind, status, diagnostic, original_message_id, received_at "
            "FROM bounces WHERE email = ? ORDER BY received_at, id",
            email.lower(),
        )


class BouncesSQL(BouncesQueries, DB):
    pass


class BouncesPG(BouncesQueries, PGDB):
    """Bounces on PostgreSQL: the same calls; a report seen before adds nothing (ON CONFLICT)."""
