"""The referral funnel's raw material: the share links and friend offers shown and the referral
links opened (funnel_steps), the asks sent, and the referrals with the channel they came by."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries


@dataclass(frozen=True)
class FunnelStep:
    advocate_id: int
    channel: str  # ask, thanks, qr, offer
    step: str  # shown, opened
    link: str | None  # opened: landing, introduce, learn
    at: datetime


@dataclass(frozen=True)
class FunnelReferral:
    """A referral as the funnel counts it: by the channel it came by, in its month."""

    via: str
    created_at: datetime
    attributed: bool  # a purchase was matched to it (referrals/attribution.py)
    won: bool
    value: float | None


class Funnel(Protocol):
    async def record_funnel_step(
        self, advocate_id: int, channel: str, step: str, link: str | None, at: datetime
    ) -> None: ...
    async def funnel_steps(self, since: datetime) -> list[FunnelStep]: ...
    async def funnel_referrals(self, since: datetime) -> list[FunnelReferral]:
        """The referrals made since `since` whose channel is known, flagged ones left out."""

    async def asks_sent_since(self, since: datetime) -> list[datetime]: ...


class FunnelQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def record_funnel_step(
        self, advocate_id: int, channel: str, step: str, link: str | None, at: datetime
    ) -> None:
        await self._apply(
            "INSERT INTO funnel_steps (advocate_id, channel, step, link, at) "
            "VALUES (?, ?, ?, ?, ?)",
            advocate_id,
            channel,
            step,
            link,
            at,
        )

    async def funnel_steps(self, since: datetime) -> list[FunnelStep]:
        return await self._list(
            FunnelStep,
            "SELECT advocate_id, channel, step, link, at FROM funnel_steps WHERE at >= ? "
            "ORDER BY at, id",
            since,
        )

    async def funnel_referrals(self, since: datetime) -> list[FunnelReferral]:
        return await self._list(
            FunnelReferral,
            "SELECT via, created_at, attribution IS NOT NULL, status = 'won', value "
            "FROM referrals WHERE via IS NOT NULL AND flag IS NULL AND created_at >= ? "
            "ORDER BY created_at, id",
            since,
        )

    async def asks_sent_since(self, since: datetime) -> list[datetime]:
        rows = await self._list(
            _Sent, "SELECT sent_at FROM asks WHERE state = 'sent' AND sent_at >= ?", since
        )
        return [r.at for r in rows]


@dataclass(frozen=True)
class _Sent:
    at: datetime


class FunnelSQL(FunnelQueries, DB):
    pass


class FunnelPG(FunnelQueries, PGDB):
    pass
