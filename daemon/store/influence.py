"""Influence: the owner's mark, the facts the influence score is made of, and the queries the
daily ask cap needs (asks planned for a day, asks sent in a day)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.clock import to_ms
from daemon.engine.influence import Facts
from daemon.store.db import DB
from daemon.store.pgdb import PGDB

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


class InfluenceSQL(DB):
    async def set_influence_mark(
        self, customer_id: int, mark: int | None, *, source: str, now: datetime
    ) -> None:
        """The owner's mark (0-10, see daemon.engine.influence.parse_mark); None removes it.
        source says where it came from: "owner" (CLI), "api", "import"."""
        async with self._write() as db:
            if mark is None:
                await db.execute(
                    "DELETE FROM influence_marks WHERE customer_id = ?", (customer_id,)
                )
                return
            await db.execute(
                "INSERT INTO influence_marks (customer_id, mark, source, set_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET "
                "mark = excluded.mark, source = excluded.source, set_at = excluded.set_at "
                "WHERE mark != excluded.mark OR source != excluded.source",  # the same: as it was
                (customer_id, mark, source, to_ms(now)),
            )

    async def influence_facts(self, customer_ids: Sequence[int]) -> dict[int, Facts]:
        rows = await self._read(
            f"{_FACTS} WHERE c.id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(customer_ids)),),
        )
        return {int(r[0]): _facts(r) for r in rows}

    async def influential(self, tags: Sequence[str]) -> list[tuple[Facts, str, str | None]]:
        """(facts, email, name) of every customer with anything that counts: a mark, one of
        `tags`, a referral made or a testimonial. Forgotten people are left out."""
        rows = await self._read(
            f"""
            {_FACTS} WHERE c.id IN (
                SELECT customer_id FROM influence_marks
                UNION SELECT a.customer_id FROM advocates a
                      WHERE EXISTS (SELECT 1 FROM referrals r WHERE r.advocate_id = a.id)
                UNION SELECT customer_id FROM testimonials
                UNION SELECT c2.id FROM customers c2, json_each(c2.tags) t
                      WHERE t.value IN (SELECT value FROM json_each(:tags)))
            AND NOT (c.email LIKE 'forgotten-%' AND c.email LIKE '%@invalid')
            """,
            {"tags": json.dumps(list(tags))},
        )
        return [(_facts(r), str(r[8]), r[9]) for r in rows]


class InfluencePG(PGDB):
    """Influence on PostgreSQL: the same calls; tags are matched with jsonb's `?|`."""

    async def set_influence_mark(
        self, customer_id: int, mark: int | None, *, source: str, now: datetime
    ) -> None:
        """As InfluenceSQL.set_influence_mark: None removes it; the same mark is left as it was."""
        async with self._write() as db:
            if mark is None:
                await db.execute("DELETE FROM influence_marks WHERE customer_id = $1", customer_id)
                return
            await db.execute(
                "INSERT INTO influence_marks (customer_id, mark, source, set_at) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (customer_id) DO UPDATE SET "
                "mark = excluded.mark, source = excluded.source, set_at = excluded.set_at "
                "WHERE influence_marks.mark != excluded.mark "
                "OR influence_marks.source != excluded.source",
                customer_id,
                mark,
                source,
                now,
            )

    async def influence_facts(self, customer_ids: Sequence[int]) -> dict[int, Facts]:
        rows = await self._read(f"{_FACTS} WHERE c.id = ANY($1::bigint[])", list(customer_ids))
        return {int(r[0]): _facts(r) for r in rows}

    async def influential(self, tags: Sequence[str]) -> list[tuple[Facts, str, str | None]]:
        """As InfluenceSQL.influential."""
        rows = await self._read(
            f"""
            {_FACTS} WHERE c.id IN (
                SELECT customer_id FROM influence_marks
                UNION SELECT a.customer_id FROM advocates a
                      WHERE EXISTS (SELECT 1 FROM referrals r WHERE r.advocate_id = a.id)
                UNION SELECT customer_id FROM testimonials
                UNION SELECT c2.id FROM customers c2 WHERE c2.tags ?| $1::text[])
            AND NOT (c.email LIKE 'forgotten-%' AND c.email LIKE '%@invalid')
            """,
            list(tags),
        )
        return [(_facts(r), str(r[8]), r[9]) for r in rows]


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
