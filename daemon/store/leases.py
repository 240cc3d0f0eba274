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

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries

# Take a free or run-out lease, or renew one's own; no row comes back when another holds it.
_HOLD = (
    "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at "
    "WHERE leases.holder = excluded.holder OR leases.expires_at <= ? "
    "RETURNING holder"
)


class Leases(Protocol):
    async def hold(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        """Take or renew the lease `name` for `seconds` from `now`: True while `holder` has it,
        False while another does and its time has not run out."""

    async def release(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop), so another process takes it at once."""


class LeasesQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def hold(self, name: str, holder: str, now: datetime, seconds: float) -> bool:
        until = now + timedelta(seconds=seconds)
        return bool(await self._write_rows(_HOLD, name, holder, until, now))

    async def release(self, name: str, holder: str) -> None:
        await self._apply("DELETE FROM leases WHERE name = ? AND holder = ?", name, holder)


class LeasesSQL(LeasesQueries, DB):
    pass


class LeasesPG(LeasesQueries, PGDB):
    pass
