"""What is planned to go to customers (surveys, reminders, referral and review asks, emails in
the queue), soonest first, and the recent decisions not to send, with their reasons, newest
first: the dashboard's Upcoming page, a page at a time.

Read from the rows the scheduler and the sender keep (invitations, asks, review_asks, outbox):
nothing here decides anything. A survey skipped when it fell due is dated then (its due time);
one skipped when planned, and an ask, when it was considered."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import PERSON, Person

# Each line: when, kind, what, why, email id, recipient, customer id and a tie-breaker.
_PLANNED = """
    SELECT i.due_at AS at, 'survey' AS kind, i.survey AS what, e.type AS why,
           CAST(NULL AS BIGINT) AS email_id, CAST(NULL AS TEXT) AS recipient,
           i.customer_id AS cid, i.id AS n
    FROM invitations i LEFT JOIN events e ON e.id = i.event_id WHERE i.state = 'scheduled'
    UNION ALL
    SELECT i.reminder_at, 'reminder', i.survey, CAST(NULL AS TEXT), NULL, NULL, i.customer_id, i.id
    FROM invitations i WHERE i.state = 'sent' AND i.reminder_at IS NOT NULL
    UNION ALL
    SELECT a.due_at, 'ask', a.moment, a.reason, NULL, NULL, a.customer_id, a.id
    FROM asks a WHERE a.state = 'scheduled'
    UNION ALL
    SELECT a.expires_at, 'waiting', a.moment, a.reason, NULL, NULL, a.customer_id, a.id
    FROM asks a WHERE a.state = 'waiting'
    UNION ALL
    SELECT r.due_at, 'review', CAST(NULL AS TEXT), r.source, NULL, NULL, r.customer_id, r.id
    FROM review_asks r WHERE r.state = 'scheduled'
    UNION ALL
    SELECT o.due_at, 'email', o.kind, CAST(NULL AS TEXT), o.id, o.recipient, o.customer_id, o.id
    FROM outbox o WHERE o.state = 'queued'
"""
_NOT_SENT = """
    SELECT coalesce(i.due_at, i.created_at) AS at, 'survey' AS kind, i.survey AS what,
           i.reason AS why, CAST(NULL AS BIGINT) AS email_id, CAST(NULL AS TEXT) AS recipient,
           i.customer_id AS cid, i.id AS n
    FROM invitations i WHERE i.state = 'skipped'
    UNION ALL
    SELECT a.created_at, 'ask', a.moment, a.reason, NULL, NULL, a.customer_id, a.id
    FROM asks a WHERE a.state = 'skipped'
    UNION ALL
    SELECT r.created_at, 'review', CAST(NULL AS TEXT), r.reason, NULL, NULL, r.customer_id, r.id
    FROM review_asks r WHERE r.state = 'skipped'
    UNION ALL
    SELECT o.updated_at, o.state, o.kind, o.last_error, o.id, o.recipient, o.customer_id, o.id
    FROM outbox o WHERE o.state IN ('suppressed', 'cancelled')
"""


@dataclass(frozen=True)
class Line:
    """One thing planned, or one decision not to send. `kind` is survey, reminder, ask,
    waiting (an ask that waits for something: `at` is when it lapses), review or email (planned);
    survey, ask, review, suppressed or cancelled (not sent). `what` is the survey, the ask's
    moment or the email's kind; `why` the event that called for it, or the reason not to."""

    at: datetime | None
    kind: str
    what: str | None
    why: str | None
    email_id: int | None
    recipient: str | None
    customer: Person | None


class Upcoming(Protocol):
    async def planned(self, limit: int, offset: int) -> tuple[int, list[Line]]: ...
    async def not_sent(self, limit: int, offset: int) -> tuple[int, list[Line]]: ...


class UpcomingQueries(Queries):
    async def planned(self, limit: int, offset: int) -> tuple[int, list[Line]]:
        """(how many in all, a page of them): soonest first, an undated one last."""
        return await self._page(_PLANNED, "x.at IS NULL, x.at, x.n", limit, offset)

    async def not_sent(self, limit: int, offset: int) -> tuple[int, list[Line]]:
        """(how many in all, a page of them): the latest decision first."""
        return await self._page(_NOT_SENT, "x.at DESC, x.n DESC", limit, offset)

    async def _page(
        self, lines: str, order: str, limit: int, offset: int
    ) -> tuple[int, list[Line]]:
        total = await self._value(f"SELECT count(*) FROM ({lines}) AS x")
        found = await self._list(
            Line,
            f"""
            SELECT x.at, x.kind, x.what, x.why, x.email_id, x.recipient, {PERSON}
            FROM ({lines}) AS x LEFT JOIN customers c ON c.id = x.cid
            ORDER BY {order} LIMIT ? OFFSET ?
            """,
            limit,
            offset,
        )
        return int(total), found


class UpcomingSQL(UpcomingQueries, DB):
    pass


class UpcomingPG(UpcomingQueries, PGDB):
    pass
