"""What the owner's digest reports for one period (daemon/engine/digest.py builds it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from daemon.engine.digest import DigestFacts, OpenComplaint, PendingReward, ReferralLine
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import as_time, read

_LINE = """
    SELECT f.public_id, c.name, c.email, f.friend_name, f.need, f.timing, f.grade, f.status,
           f.flag, f.public_thanks_ok, f.created_at, f.closed_at, f.value
    FROM referrals f JOIN advocates a ON a.id = f.advocate_id
    JOIN customers c ON c.id = a.customer_id
"""


class Digest(Protocol):
    """The owner's digest: the period's facts, and whether this period's digest is queued."""

    async def store_created(self, now: datetime) -> datetime: ...
    async def outbox_has(self, dedupe_key: str) -> bool: ...
    async def digest_facts(
        self, start: datetime, end: datetime, previous_start: datetime
    ) -> DigestFacts: ...


class DigestQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def store_created(self, now: datetime) -> datetime:
        """When this store began: `now` the first time this is asked (the daemon's first start
        on a new store; migration 14 marked an older store at its earliest record), the same
        ever after."""
        query = "SELECT at FROM store_marks WHERE name = 'created'"
        created = await self._value(query)
        if created is None:
            await self._apply(
                "INSERT INTO store_marks (name, at) VALUES ('created', ?) "
                "ON CONFLICT (name) DO NOTHING",
                now,
            )
            created = await self._value(query)
        return as_time(created)

    async def outbox_has(self, dedupe_key: str) -> bool:
        """Whether an email with this key was ever enqueued (a digest already made)."""
        return bool(await self._fetch("SELECT 1 FROM outbox WHERE dedupe_key = ?", dedupe_key))

    async def digest_facts(
        self, start: datetime, end: datetime, previous_start: datetime
    ) -> DigestFacts:
        """What happened in [start, end), the answers of [previous_start, start), and what is
        waiting for the owner now."""
        segments = await self._fetch(
            """
            SELECT CASE WHEN answered_at >= ? THEN 'now' ELSE 'before' END, segment, count(*)
            FROM responses WHERE answered_at >= ? AND answered_at < ?
            GROUP BY 1, 2
            """,
            start,
            previous_start,
            end,
        )
        complaints = await self._fetch(
            """
            SELECT k.id, c.name, c.email, r.score, r.comment, k.opened_at, c.public_id
            FROM complaints k JOIN responses r ON r.id = k.response_id
            JOIN customers c ON c.id = k.customer_id
            WHERE k.state = 'open' ORDER BY k.opened_at, k.id
            """
        )
        new = await self._fetch(
            _LINE + "WHERE f.created_at >= ? AND f.created_at < ? ORDER BY f.id", start, end
        )
        won = await self._fetch(
            _LINE + "WHERE f.status = 'won' AND f.closed_at >= ? AND f.closed_at < ? "
            "ORDER BY f.closed_at, f.id",
            start,
            end,
        )
        rewards = await self._fetch(
            """
            SELECT f.public_id, c.name, c.email, f.friend_name, w.description, w.state
            FROM rewards w JOIN referrals f ON f.id = w.referral_id
            JOIN advocates a ON a.id = w.advocate_id JOIN customers c ON c.id = a.customer_id
            WHERE w.state IN ('awaiting_approval', 'awaiting_code')
            UNION ALL  -- a gift (a donation) is issued without a code: the owner gives it
            SELECT f.public_id, c.name, c.email, f.friend_name, w.description, 'to_give'
            FROM rewards w JOIN referrals f ON f.id = w.referral_id
            JOIN advocates a ON a.id = w.advocate_id JOIN customers c ON c.id = a.customer_id
            WHERE w.state = 'issued' AND w.code IS NULL AND w.issued_at >= ? AND w.issued_at < ?
            ORDER BY 1
            """,
            start,
            end,
        )
        return DigestFacts(
            segments=_segments(segments, "now"),
            previous_segments=_segments(segments, "before"),
            open_complaints=[read(OpenComplaint, r) for r in complaints],
            new_referrals=[read(ReferralLine, r) for r in new],
            won=[read(ReferralLine, r) for r in won],
            pending_rewards=[PendingReward(*r) for r in rewards],
        )


class DigestSQL(DigestQueries, DB):
    pass


class DigestPG(DigestQueries, PGDB):
    """The owner's digest on PostgreSQL: the same calls."""


def _segments(rows: Any, period: str) -> tuple[int, int, int]:
    counts = {str(r[1]): int(r[2]) for r in rows if r[0] == period}
    return counts.get("promoter", 0), counts.get("passive", 0), counts.get("detractor", 0)
