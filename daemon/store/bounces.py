"""Bounces and complaints that arrive as mail (DSNs and ARF reports)."""

from __future__ import annotations

from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.rows import Bounce, read

# One undelivered email counts once: a "delayed" warning and the final failure of the same
# original message are one soft bounce; reports that name no original message count one each.
_SOFT_COUNT = (
    "SELECT count(DISTINCT coalesce(original_message_id, 'report:' || id)) FROM bounces "
    "WHERE email = ? AND kind = 'soft_bounce'"
)
_PG_SOFT_COUNT = _SOFT_COUNT.replace("?", "$1")


class Bounces(Protocol):
    """Bounces and complaints that arrived as mail, one per address and kind."""

    async def record_bounce(self, bounce: Bounce, dedupe: str) -> int:
        """Record one recipient's bounce or complaint (a report seen before, by its `dedupe`
        key, is not recorded twice) and return the soft bounces counted for that address."""

    async def soft_bounces(self, email: str) -> int: ...
    async def bounces_of(self, email: str) -> list[Bounce]: ...


class BouncesSQL(DB):
    async def record_bounce(self, bounce: Bounce, dedupe: str) -> int:
        b, address = bounce, bounce.email.lower()
        async with self._write() as db:
            await db.execute(
                "INSERT INTO bounces (email, kind, status, diagnostic, original_message_id, "
                "dedupe, received_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dedupe, email) DO NOTHING",
                (
                    address,
                    b.kind,
                    b.status,
                    b.diagnostic,
                    b.original_message_id,
                    dedupe,
                    to_ms(b.received_at),
                ),
            )
            cursor = await db.execute(_SOFT_COUNT, (address,))
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def soft_bounces(self, email: str) -> int:
        rows = await self._read(_SOFT_COUNT, (email.lower(),))
        return int(rows[0][0])

    async def bounces_of(self, email: str) -> list[Bounce]:
        return await self._rows(
            Bounce,
            "SELECT email, kind, status, diagnostic, original_message_id, received_at "
            "FROM bounces WHERE email = ? ORDER BY received_at, id",
            (email.lower(),),
        )


class BouncesPG(PGDB):
    """Bounces on PostgreSQL: the same calls; a report seen before adds nothing (ON CONFLICT)."""

    async def record_bounce(self, bounce: Bounce, dedupe: str) -> int:
        b, address = bounce, bounce.email.lower()
        async with self._write() as db:
            await db.execute(
                "INSERT INTO bounces (email, kind, status, diagnostic, original_message_id, "
                "dedupe, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (dedupe, email) DO NOTHING",
                address,
                b.kind,
                b.status,
                b.diagnostic,
                b.original_message_id,
                dedupe,
                b.received_at,
            )
            return int(await db.fetchval(_PG_SOFT_COUNT, address))

    async def soft_bounces(self, email: str) -> int:
        rows = await self._read(_PG_SOFT_COUNT, email.lower())
        return int(rows[0][0])

    async def bounces_of(self, email: str) -> list[Bounce]:
        rows = await self._read(
            "SELECT email, kind, status, diagnostic, original_message_id, received_at "
            "FROM bounces WHERE email = $1 ORDER BY received_at, id",
            email.lower(),
        )
        return [read(Bounce, r) for r in rows]
