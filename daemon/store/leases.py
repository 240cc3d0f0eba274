"""Leases: one process at a time does a job that must not run twice at once (the scheduler's
planning), however many processes share the store; a holder that dies loses it when its time
runs out, and another takes it over.

A lease is a row: the job's name, its holder and when it ends. Taking it and renewing it are one
statement, so two processes asking at once cannot both get it. Times come from the caller's
clock, so a test moves through a takeover with a fake clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB

# Take a free or run-out lease, or renew one's own; no row comes back when another holds it.
_HOLD = (
    "INSERT INTO leases (name, holder, expires_at) VALUES ({0}, {1}, {2}) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= {3} "
    "RETURNING holder"
)
_RELEASE = "DELETE FROM leases WHERE name = {0} AND holder = {1}"


class Leases(Protocol):
    async def hold(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds` from `now`: True while `holder` has it,
        False while another does and its time has not run out."""

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop), so another process takes it at once."""


class LeasesSQL(DB):
    async def hold(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        async with self._write() as db:
            cursor = await db.execute(
                _HOLD.format("?", "?", "?", "?"),
                (name, holder, to_ms(now + timedelta(seconds=seconds)), to_ms(now)),
            )
            return await cursor.fetchone() is not None

    async def release(self, name: str, holder: str) -> None:
        await self._write_one(_RELEASE.format("?", "?"), (name, holder))


class LeasesPG(PGDB):
    async def hold(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        async with self._write() as db:
            row = await db.fetchrow(
                _HOLD.format("$1", "$2", "$3", "$4"),
                name,
                holder,
                now + timedelta(seconds=seconds),
                now,
            )
            return row is not None

    async def release(self, name: str, holder: str) -> None:
        async with self._write() as db:
            await db.execute(_RELEASE.format("$1", "$2"), name, holder)
