"""Tallies for the NPS report, aggregated in SQL; daemon.report shapes and formats them.

Every tally is keyed by (kind, key): kind "survey" with the survey id, or kind "tag" with one
customer tag (a customer with several tags counts under each). Scores stay scores here: the
NPS bands are the engine's business, not the query's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from daemon.clock import to_ms
from daemon.store._sql import SQL

# Tags come from the customers' JSON list; json_each yields one row per tag.
_TAGGED = "JOIN customers c ON c.id = {table}.customer_id JOIN json_each(c.tags) t"


class ReportsSQL(SQL):
    async def score_tallies(self) -> list[tuple[str, str, int, int, int]]:
        """(kind, key, score, responses, responses without an invitation), all time."""
        rows = await self._read(
            f"""
            SELECT 'survey', survey, score, count(*), count(*) - count(invitation_id)
            FROM responses GROUP BY survey, score
            UNION ALL
            SELECT 'tag', t.value, r.score, count(*), count(*) - count(r.invitation_id)
            FROM responses r {_TAGGED.format(table="r")} GROUP BY t.value, r.score
            """
        )
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]

    async def sent_tallies(self) -> list[tuple[str, str, int, int]]:
        """(kind, key, invitations sent, of those answered), all time."""
        rows = await self._read(
            f"""
            SELECT 'survey', i.survey, count(*), count(r.id)
            FROM invitations i LEFT JOIN responses r ON r.invitation_id = i.id
            WHERE i.sent_at IS NOT NULL GROUP BY i.survey
            UNION ALL
            SELECT 'tag', t.value, count(*), count(r.id)
            FROM invitations i {_TAGGED.format(table="i")}
            LEFT JOIN responses r ON r.invitation_id = i.id
            WHERE i.sent_at IS NOT NULL GROUP BY t.value
            """
        )
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    async def monthly_tallies(
        self, starts: Sequence[datetime]
    ) -> list[tuple[str, str, int, int, int]]:
        """(kind, key, month, score, responses) with month i the answers in
        [starts[i], starts[i + 1]); each month is a range on the responses_answered index."""
        if len(starts) < 2:
            return []
        bounds = [to_ms(start) for start in starts]
        months = ", ".join("(?, ?, ?)" for _ in bounds[1:])
        params: list[int] = []
        for i, (start, stop) in enumerate(pairwise(bounds)):
            params += [i, start, stop]
        rows = await self._read(
            f"""
            WITH months(m, start, stop) AS (VALUES {months}),
            answered AS (
                SELECT m.m, r.survey, r.score, r.customer_id
                FROM months m JOIN responses r
                ON r.answered_at >= m.start AND r.answered_at < m.stop
            )
            SELECT 'survey', survey, m, score, count(*) FROM answered GROUP BY survey, m, score
            UNION ALL
            SELECT 'tag', t.value, a.m, a.score, count(*)
            FROM answered a {_TAGGED.format(table="a")} GROUP BY t.value, a.m, a.score
            """,
            params,
        )
        return [(str(r[0]), str(r[1]), int(r[2]), int(r[3]), int(r[4])) for r in rows]
