"""Influence: the owner's mark, the facts the influence score is made of, and the queries the
daily ask cap needs (asks planned for a day, asks sent in a day)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.influence import Facts
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries

_FACTS = """
    SELECT c.id, m.mark, m.source, c.tags,
      (SELECT count(*) FROM referrals r JOIN advocates a ON a.id = r.advocate_id
       WHERE a.customer_id = c.id AND r.flag IS NULL),
      (SELECT count(*) FROM referrals r JOIN advocates a ON a.id = r.advocate_id
       WHERE a.customer_id = c.id AND r.flag IS NULL AND r.grade = 'A'),
      (SELECT count(*) FROM testimonials t WHERE t.customer_id = c.id),
      (SELECT count(*) FROM referrals r JOIN advocates a ON a.id = r.advocate_id
       WHERE a.customer_id = c.id AND r.flag IS NULL AND r.status = 'won'),
      c.email, c.name
    FROM customers c LEFT JOIN influence_marks m ON m.customer_id = c.id
"""


class InfluenceMarks(Protocol):
    """Influence: the owner's marks and the facts the engine weighs."""

    async def set_influence_mark(
        self, customer_id: int, mark: int | None, *, source: str, now: datetime
    ) -> None: ...
    async def influence_facts(self, customer_ids: Sequence[int]) -> dict[int, Facts]: ...
    async def influential(self, tags: Sequence[str]) -> list[tuple[Facts, str, str | None]]: ...


class InfluenceQueries(Queries):
    """Both halves' calls; only how a customer's tags are matched differs (`_tagged`)."""

    def _tagged(self, tags: Sequence[str]) -> tuple[str, Any]:
        """A query of the ids of customers with any of `tags`, and its one parameter."""
        raise NotImplementedError

    async def set_influence_mark(
        self, customer_id: int, mark: int | None, *, source: str, now: datetime
    ) -> None:
        """The owner's mark (0-10, see daemon.engine.influence.parse_mark); None removes it.
        source says where it came from: "owner" (CLI), "api", "import"."""
        if mark is None:
            await self._apply("DELETE FROM influence_marks WHERE customer_id = ?", customer_id)
            return
        await self._apply(
            "INSERT INTO influence_marks (customer_id, mark, source, set_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET "
            "mark = excluded.mark, source = excluded.source, set_at = excluded.set_at "
            "WHERE influence_marks.mark != excluded.mark "  # the same: left as it was
            "OR influence_marks.source != excluded.source",
            customer_id,
            mark,
            source,
            now,
        )

    async def influence_facts(self, customer_ids: Sequence[int]) -> dict[int, Facts]:
        among, ids = self._in(customer_ids)
        rows = await self._fetch(f"{_FACTS} WHERE c.id {among}", *ids)
        return {int(r[0]): _facts(r) for r in rows}

    async def influential(self, tags: Sequence[str]) -> list[tuple[Facts, str, str | None]]:
        """(facts, email, name) of every customer with anything that counts: a mark, one of
        `tags`, a referral made or a testimonial. Forgotten people are left out."""
        tagged, tag_param = self._tagged(tags)
        rows = await self._fetch(
            f"""
            {_FACTS} WHERE c.id IN (
                SELECT customer_id FROM influence_marks
                UNION SELECT a.customer_id FROM advocates a
                      WHERE EXISTS (SELECT 1 FROM referrals r WHERE r.advocate_id = a.id)
                UNION SELECT customer_id FROM testimonials
                UNION {tagged})
            AND NOT (c.email LIKE 'forgotten-%' AND c.email LIKE '%@invalid')
            """,
            tag_param,
        )
        return [(_facts(r), str(r[8]), r[9]) for r in rows]


class InfluenceSQL(InfluenceQueries, DB):
    def _tagged(self, tags: Sequence[str]) -> tuple[str, Any]:
        # tags are a JSON text: matched through json_each
        return (
            "SELECT c2.id FROM customers c2, json_each(c2.tags) t "
            "WHERE t.value IN (SELECT value FROM json_each(?))",
            json.dumps(list(tags)),
        )


class InfluencePG(InfluenceQueries, PGDB):
    """Influence on PostgreSQL: the same calls; tags are matched with jsonb's `?|`."""

    def _tagged(self, tags: Sequence[str]) -> tuple[str, Any]:
        # jsonb's own operator: any of the array's strings among the tags
        return "SELECT c2.id FROM customers c2 WHERE c2.tags ?| CAST(? AS text[])", list(tags)


def _facts(row: Any) -> Facts:
    return Facts(
        customer_id=int(row[0]),
        mark=row[1],
        mark_source=row[2],
        tags=tuple(json.loads(row[3] or "[]")),
        referrals=int(row[4]),
        grade_a=int(row[5]),
        testimonials=int(row[6]),
        wins=int(row[7]),
    )
