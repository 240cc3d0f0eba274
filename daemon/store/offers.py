"""Offer tests: the offer each advocate was promised, and the figures per offer."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.offers import Terms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries


class Offers(Protocol):
    """Friend offers: the terms each advocate's friends get (offer tests), and how they did."""

    async def offer_terms(self, advocate_id: int) -> Terms | None: ...
    async def assign_offer(self, advocate_id: int, terms: Terms, now: datetime) -> Terms: ...
    async def offer_facts(self) -> list[tuple[Any, ...]]: ...


class OffersQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects (counts with FILTER, sums cast
    to BIGINT so the figures are ints on PostgreSQL as on SQLite)."""

    async def offer_terms(self, advocate_id: int) -> Terms | None:
        rows = await self._fetch(
            "SELECT offer_id, text, reward, choices FROM offer_assignments WHERE advocate_id = ?",
            advocate_id,
        )
        return _terms(rows[0]) if rows else None

    async def assign_offer(self, advocate_id: int, terms: Terms, now: datetime) -> Terms:
        """Promise `terms` to the advocate unless something was promised before: the first
        promise stands, and is what this returns."""
        async with self._tx() as tx:
            await tx.execute(
                "INSERT INTO offer_assignments (advocate_id, offer_id, text, reward, choices, "
                "assigned_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (advocate_id) DO NOTHING",
                advocate_id,
                terms.id,
                terms.text,
                terms.reward,
                json.dumps(list(terms.choices), ensure_ascii=False),
                now,
            )
            row = await tx.fetchrow(
                "SELECT offer_id, text, reward, choices FROM offer_assignments "
                "WHERE advocate_id = ?",
                advocate_id,
            )
        return _terms(row)

    async def offer_facts(self) -> list[tuple[Any, ...]]:
        """Per offer: (offer id, advocates asked, asks sent, advocates who referred, referrals,
        grade A, B, C, won, value won, text, reward, friend-offer redemptions). Flagged referrals
        do not count."""
        rows = await self._fetch(
            """
            SELECT o.offer_id, count(*), CAST(coalesce(sum(k.n), 0) AS BIGINT),
                   count(*) FILTER (WHERE r.n > 0), CAST(coalesce(sum(r.n), 0) AS BIGINT),
                   CAST(coalesce(sum(r.a), 0) AS BIGINT), CAST(coalesce(sum(r.b), 0) AS BIGINT),
                   CAST(coalesce(sum(r.c), 0) AS BIGINT), CAST(coalesce(sum(r.won), 0) AS BIGINT),
                   coalesce(sum(r.value), 0), max(o.text), max(o.reward),
                   CAST(coalesce(sum(f.n), 0) AS BIGINT)
            FROM offer_assignments o JOIN advocates a ON a.id = o.advocate_id
            LEFT JOIN (SELECT customer_id, count(*) AS n FROM asks WHERE state = 'sent'
                       GROUP BY customer_id) k ON k.customer_id = a.customer_id
            LEFT JOIN (SELECT advocate_id, count(*) AS n,
                              count(*) FILTER (WHERE grade = 'A') AS a,
                              count(*) FILTER (WHERE grade = 'B') AS b,
                              count(*) FILTER (WHERE grade = 'C') AS c,
                              count(*) FILTER (WHERE status = 'won') AS won,
                              sum(CASE WHEN status = 'won' THEN coalesce(value, 0) END) AS value
                       FROM referrals WHERE flag IS NULL GROUP BY advocate_id) r
                   ON r.advocate_id = o.advocate_id
            LEFT JOIN (SELECT advocate_id, count(*) AS n FROM friend_redemptions
                       GROUP BY advocate_id) f ON f.advocate_id = o.advocate_id
            GROUP BY o.offer_id
            """
        )
        return [tuple(r) for r in rows]


class OffersSQL(OffersQueries, DB):
    pass


class OffersPG(OffersQueries, PGDB):
    """Offer tests on PostgreSQL: the same calls and figures."""


def _terms(row: Any) -> Terms:
    return Terms(str(row[0]), row[1], str(row[2]), tuple(json.loads(row[3])))
