"""Previews of an owner's edit (web/admin_edit.py): the HTML a sandboxed frame shows, kept in
the store for a short while so that whichever web process the frame's request reaches (behind a
load balancer) finds it. Each is the session's that made it (by a hash of the session), and
gone after `KEEP`; the expired ones are deleted as new ones are kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries

#: how long a preview can be shown after it was made
KEEP = timedelta(hours=1)


class Previews(Protocol):
    async def keep_preview(self, token: str, holder: str, html: str, now: datetime) -> None:
        """Keep a preview's HTML under `token` for `holder` until KEEP has passed."""

    async def preview(self, token: str, holder: str, now: datetime) -> str | None:
        """The preview's HTML, if it is `holder`'s and has not expired."""


class PreviewsQueries(Queries):
    async def keep_preview(self, token: str, holder: str, html: str, now: datetime) -> None:
        async with self._tx() as tx:
            await tx.execute("DELETE FROM edit_previews WHERE expires_at <= ?", now)
            await tx.execute(
                "INSERT INTO edit_previews (token, holder, html, expires_at) VALUES (?, ?, ?, ?)",
                token,
                holder,
                html,
                now + KEEP,
            )

    async def preview(self, token: str, holder: str, now: datetime) -> str | None:
        found = await self._value(
            "SELECT html FROM edit_previews WHERE token = ? AND holder = ? AND expires_at > ?",
            token,
            holder,
            now,
        )
        return None if found is None else str(found)


class PreviewsSQL(PreviewsQueries, DB):
    pass


class PreviewsPG(PreviewsQueries, PGDB):
    pass
