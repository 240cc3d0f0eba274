"""Review asks (a promoter asked for a public review) and the clicks on their review links.

A promoter answer plans one review ask (at most one scheduled per customer at a time); the
scheduler sends it when due or skips it with its reason (daemon/referrals/review_asks.py). The
sites an ask named are kept with it, so its links keep their meaning after the owner edits the
list. A click on a link is pending until judged like a survey score's (daemon/engine/clicks.py).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.clicks import Click
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import read


@dataclass(frozen=True)
class ReviewAsk:
    id: int
    public_id: str
    customer_id: int
    state: str  # scheduled, sent, skipped
    reason: str | None
    due_at: datetime | None
    sent_at: datetime | None
    sites: str | None  # JSON [{"name", "url"}], as sent

    def site_list(self) -> list[dict[str, str]]:
        return list(json.loads(self.sites)) if self.sites else []


@dataclass(frozen=True)
class ReviewClick:
    """A click judged a person's, for the report."""

    site_name: str
    at: datetime


_COLUMNS = "id, public_id, customer_id, state, reason, due_at, sent_at, sites"
# A person who clicked one site of one ask several times clicked it once, at the first.
_PEOPLE = (
    "SELECT site_name, min(clicked_at) FROM review_clicks WHERE state = 'person' "
    "GROUP BY review_ask_id, site, site_name ORDER BY 2"
)


class ReviewAsks(Protocol):
    async def plan_review_ask(
        self, customer_id: int, source: str, due_at: datetime, now: datetime
    ) -> bool:
        """Schedule one; False (nothing added) when `source` planned one before or this
        customer has one scheduled already."""

    async def due_review_asks(self, now: datetime, limit: int) -> list[ReviewAsk]: ...
    async def last_review_ask(self, customer_id: int) -> datetime | None:
        """When this customer was last sent a review ask (the cool-down starts there)."""

    async def review_ask_sent(
        self, ask_id: int, sites: Sequence[dict[str, str]], at: datetime
    ) -> None: ...
    async def skip_review_ask(self, ask_id: int, reason: str) -> None: ...
    async def move_review_ask(self, ask_id: int, due_at: datetime) -> None: ...
    async def review_ask(self, public_id: str) -> ReviewAsk | None: ...
    async def review_asks_of(self, customer_id: int) -> list[ReviewAsk]: ...
    async def add_review_click(self, ask_id: int, site: int, site_name: str, at: datetime) -> None:
        """A click held as pending until judged."""

    async def pending_review_clicks(self, limit: int) -> dict[int, list[Click]]:
        """Pending clicks by review ask (`Click.score` is the site's place in the ask)."""

    async def settle_review_clicks(
        self, scanner: Sequence[int], settled: Sequence[int]
    ) -> None: ...
    async def review_asks_sent(self) -> list[datetime]:
        """When each review ask was sent, for the report."""

    async def review_clicks(self) -> list[ReviewClick]:
        """The sites people clicked (not scanners), once per ask and site, for the report."""


class ReviewAsksQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def plan_review_ask(
        self, customer_id: int, source: str, due_at: datetime, now: datetime
    ) -> bool:
        added = await self._write_rows(
            "INSERT INTO review_asks (public_id, customer_id, source, state, due_at, created_at)"
            " VALUES (?, ?, ?, 'scheduled', ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            secrets.token_hex(16),
            customer_id,
            source,
            due_at,
            now,
        )
        return bool(added)

    async def due_review_asks(self, now: datetime, limit: int) -> list[ReviewAsk]:
        return await self._list(
            ReviewAsk,
            f"SELECT {_COLUMNS} FROM review_asks WHERE state = 'scheduled' AND due_at <= ? "
            "ORDER BY due_at, id LIMIT ?",
            now,
            limit,
        )

    async def last_review_ask(self, customer_id: int) -> datetime | None:
        last = await self._value(
            "SELECT max(sent_at) FROM review_asks WHERE customer_id = ? AND sent_at IS NOT NULL",
            customer_id,
        )
        return None if last is None else read(_At, (last,)).at

    async def review_ask_sent(
        self, ask_id: int, sites: Sequence[dict[str, str]], at: datetime
    ) -> None:
        await self._apply(
            "UPDATE review_asks SET state = 'sent', sent_at = ?, sites = ? WHERE id = ?",
            at,
            json.dumps(list(sites)),
            ask_id,
        )

    async def skip_review_ask(self, ask_id: int, reason: str) -> None:
        await self._apply(
            "UPDATE review_asks SET state = 'skipped', reason = ?, due_at = NULL WHERE id = ?",
            reason,
            ask_id,
        )

    async def move_review_ask(self, ask_id: int, due_at: datetime) -> None:
        await self._apply("UPDATE review_asks SET due_at = ? WHERE id = ?", due_at, ask_id)

    async def review_ask(self, public_id: str) -> ReviewAsk | None:
        return await self._one(
            ReviewAsk, f"SELECT {_COLUMNS} FROM review_asks WHERE public_id = ?", public_id
        )

    async def review_asks_of(self, customer_id: int) -> list[ReviewAsk]:
        return await self._list(
            ReviewAsk,
            f"SELECT {_COLUMNS} FROM review_asks WHERE customer_id = ? ORDER BY id",
            customer_id,
        )

    async def add_review_click(self, ask_id: int, site: int, site_name: str, at: datetime) -> None:
        await self._apply(
            "INSERT INTO review_clicks (review_ask_id, site, site_name, clicked_at) "
            "VALUES (?, ?, ?, ?)",
            ask_id,
            site,
            site_name,
            at,
        )

    async def pending_review_clicks(self, limit: int) -> dict[int, list[Click]]:
        rows = await self._fetch(
            "SELECT review_ask_id, id, site, clicked_at FROM review_clicks "
            "WHERE state = 'pending' ORDER BY id LIMIT ?",
            limit,
        )
        return _by_ask(rows)

    async def settle_review_clicks(self, scanner: Sequence[int], settled: Sequence[int]) -> None:
        people = [(i,) for i in settled if i not in set(scanner)]
        await self._write_many(
            [
                (
                    "UPDATE review_clicks SET state = 'scanner' WHERE id = ?",
                    [(i,) for i in scanner],
                ),
                ("UPDATE review_clicks SET state = 'person' WHERE id = ?", people),
            ]
        )

    async def review_asks_sent(self) -> list[datetime]:
        rows = await self._list(_At, "SELECT sent_at FROM review_asks WHERE sent_at IS NOT NULL")
        return [r.at for r in rows]

    async def review_clicks(self) -> list[ReviewClick]:
        return await self._list(ReviewClick, _PEOPLE)


class ReviewAsksSQL(ReviewAsksQueries, DB):
    pass


class ReviewAsksPG(ReviewAsksQueries, PGDB):
    pass


@dataclass(frozen=True)
class _At:
    at: datetime


def _by_ask(rows: Sequence[Any]) -> dict[int, list[Click]]:
    pending: dict[int, list[Click]] = {}
    for ask_id, click_id, site, at in rows:
        pending.setdefault(int(ask_id), []).append(read(Click, (click_id, site, at)))
    return pending
