"""Advocates and the referrals they make, each step of a referral, and who sends business."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.attribution import Candidate
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries, Statement, run
from daemon.store.rows import (
    REFERRAL,
    Advocate,
    NewReferral,
    Referral,
    ReferralMove,
    Step,
    as_time,
    read,
)

_ADVOCATE = "SELECT id, customer_id, code FROM advocates"


class Referrals(Protocol):
    """Advocates, their referrals and each referral's steps, and the facts of who sends
    business."""

    async def ensure_advocate(self, customer_id: int, now: datetime) -> Advocate: ...
    async def advocate_by_code(self, code: str) -> Advocate | None: ...
    async def advocate(self, advocate_id: int) -> Advocate | None: ...
    async def add_referral(self, new: NewReferral, now: datetime) -> Referral: ...
    async def referral(self, public_id: str) -> Referral | None: ...
    async def referral_by_id(self, referral_id: int) -> Referral | None: ...
    async def referrals_since(self, advocate_id: int, since: datetime) -> int: ...
    async def unnotified_referrals(self, limit: int) -> list[Referral]: ...
    async def referral_notified(self, referral_id: int) -> None: ...
    async def move_referral(self, referral_id: int, move: ReferralMove, now: datetime) -> None:
        """A step on the referral's road, recorded with whether the advocate is to be told."""

    async def unnotified_steps(self, limit: int) -> list[Step]: ...
    async def step_notified(self, step_id: int) -> None: ...
    async def referral_facts(self) -> list[tuple[Any, ...]]: ...
    async def tags_by_kind(self) -> list[tuple[str, int, int]]: ...
    async def attribution_facts(
        self, email: str, event_id: str
    ) -> tuple[list[Candidate], datetime | None]:
        """The referrals whose friend is `email`, and that person's earliest purchase or
        project other than `event_id` (None if none)."""

    async def attribute(self, referral_id: int, what: str, value: float | None) -> bool:
        """Record what a purchase matched on the referral, unless one already did (False)."""


class ReferralsQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects (flags and tags through the
    layer's `_not` and `_json_items`)."""

    async def ensure_advocate(self, customer_id: int, now: datetime) -> Advocate:
        """The customer's referral code, made once and kept (their links keep working)."""
        minted = mint_advocate(customer_id, now)
        async with self._tx() as tx:
            await tx.execute(minted.sql, *minted.params)
            row = await tx.fetchrow(f"{_ADVOCATE} WHERE customer_id = ?", customer_id)
        assert row is not None
        return read(Advocate, row)

    async def advocate_by_code(self, code: str) -> Advocate | None:
        return await self._one(Advocate, f"{_ADVOCATE} WHERE code = ?", code)

    async def advocate(self, advocate_id: int) -> Advocate | None:
        return await self._one(Advocate, f"{_ADVOCATE} WHERE id = ?", advocate_id)

    async def add_referral(self, new: NewReferral, now: datetime) -> Referral:
        intro = new.intro
        (row,) = await self._write_rows(
            f"""
            INSERT INTO referrals (public_id, advocate_id, friend_customer_id, friend_name,
                friend_email, friend_phone, need, timing, relationship, expects_contact,
                advocate_introduces, public_thanks_ok, reward_choice, grade, channel, flag,
                via, status, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)
            RETURNING {REFERRAL}
            """,
            "r_" + secrets.token_urlsafe(12),
            new.advocate_id,
            new.friend_customer_id,
            intro.friend_name,
            intro.friend_email,
            intro.friend_phone,
            intro.need,
            intro.timing,
            intro.relationship,
            bool(intro.expects_contact),
            bool(intro.advocate_introduces),
            bool(intro.public_thanks_ok),
            intro.reward_choice,
            new.grade,
            new.channel,
            new.flag,
            new.via,
            now,
            now,
        )
        return read(Referral, row)

    async def referral(self, public_id: str) -> Referral | None:
        return await self._one(
            Referral, f"SELECT {REFERRAL} FROM referrals WHERE public_id = ?", public_id
        )

    async def referral_by_id(self, referral_id: int) -> Referral | None:
        return await self._one(
            Referral, f"SELECT {REFERRAL} FROM referrals WHERE id = ?", referral_id
        )

    async def referrals_since(self, advocate_id: int, since: datetime) -> int:
        return int(
            await self._value(
                "SELECT count(*) FROM referrals WHERE advocate_id = ? AND created_at >= ?",
                advocate_id,
                since,
            )
        )

    async def unnotified_referrals(self, limit: int) -> list[Referral]:
        return await self._list(
            Referral,
            f"SELECT {REFERRAL} FROM referrals WHERE {self._not('notified')} ORDER BY id LIMIT ?",
            limit,
        )

    async def referral_notified(self, referral_id: int) -> None:
        await self._apply("UPDATE referrals SET notified = TRUE WHERE id = ?", referral_id)

    async def move_referral(self, referral_id: int, move: ReferralMove, now: datetime) -> None:
        status, shared = move.status, move.shared
        async with self._tx() as tx:
            await tx.execute(
                """
                UPDATE referrals SET status = ?, value = coalesce(?, value), updated_at = ?,
                    contacted_at = CASE WHEN ? = 'contacted' THEN coalesce(contacted_at, ?)
                                        ELSE contacted_at END,
                    closed_at = CASE WHEN ? IN ('won', 'lost') THEN ? ELSE closed_at END
                WHERE id = ?
                """,
                status,
                move.value,
                now,
                status,
                now,
                status,
                now,
                referral_id,
            )
            await tx.execute(
                "INSERT INTO referral_steps (referral_id, status, note, shared, notified, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                referral_id,
                status,
                move.note,
                bool(shared),
                not shared,
                now,
            )

    async def unnotified_steps(self, limit: int) -> list[Step]:
        columns = ", ".join("r." + c.strip() for c in REFERRAL.split(","))
        return await self._list(
            Step,
            f"SELECT s.id, {columns}, s.status, s.note FROM referral_steps s "
            f"JOIN referrals r ON r.id = s.referral_id WHERE {self._not('s.notified')} "
            "ORDER BY s.id LIMIT ?",
            limit,
        )

    async def step_notified(self, step_id: int) -> None:
        await self._apply("UPDATE referral_steps SET notified = TRUE WHERE id = ?", step_id)

    async def referral_facts(self) -> list[tuple[Any, ...]]:
        """One row per referral with its advocate: the raw material of the sources report
        (its times as datetimes). Partners' referrals are in their own report (partner_facts)."""
        rows = await self._fetch(
            """
            SELECT a.id, c.name, c.email, r.grade, r.status, r.value, r.flag,
                   r.created_at, r.contacted_at, r.closed_at, r.attribution IS NOT NULL
            FROM referrals r JOIN advocates a ON a.id = r.advocate_id
            JOIN customers c ON c.id = a.customer_id
            WHERE a.id NOT IN (SELECT advocate_id FROM partners)
            ORDER BY a.id, r.id
            """
        )
        return [
            (*r[:7], *(None if t is None else as_time(t) for t in r[7:10]), bool(r[10]))
            for r in rows
        ]

    async def attribution_facts(
        self, email: str, event_id: str
    ) -> tuple[list[Candidate], datetime | None]:
        rows = await self._fetch(
            """
            SELECT r.id, c.email, a.code, r.status, r.created_at, r.attribution IS NOT NULL
            FROM referrals r JOIN advocates a ON a.id = r.advocate_id
            JOIN customers c ON c.id = a.customer_id
            WHERE lower(r.friend_email) = ? ORDER BY r.id
            """,
            email.lower(),
        )
        earliest = await self._value(
            "SELECT min(e.occurred_at) FROM events e JOIN customers c ON c.id = e.customer_id "
            "WHERE c.email = ? AND e.type IN ('purchase.completed', 'project.completed') "
            "AND e.id != ?",
            email.lower(),
            event_id,
        )
        found = [
            Candidate(int(r[0]), str(r[1]), str(r[2]), str(r[3]), as_time(r[4]), bool(r[5]))
            for r in rows
        ]
        return found, None if earliest is None else as_time(earliest)

    async def attribute(self, referral_id: int, what: str, value: float | None) -> bool:
        changed = await self._apply(
            "UPDATE referrals SET attribution = ?, attribution_value = ? "
            "WHERE id = ? AND attribution IS NULL",
            what,
            value,
            referral_id,
        )
        return changed == 1

    async def tags_by_kind(self) -> list[tuple[str, int, int]]:
        """Per tag: how many advocates (customers who referred) and other customers carry it,
        plus a ("", advocates, others) row with the totals. Partners are not customers."""
        rows = await self._fetch(
            f"""
            WITH refs AS (SELECT DISTINCT a.customer_id AS id FROM referrals r
                          JOIN advocates a ON a.id = r.advocate_id
                          WHERE a.id NOT IN (SELECT advocate_id FROM partners)),
                 known AS (SELECT DISTINCT customer_id AS id FROM events
                           WHERE customer_id IS NOT NULL),
                 people AS (SELECT c.id, c.tags, c.id IN (SELECT id FROM refs) AS advocate
                            FROM customers c WHERE c.id IN (SELECT id FROM known)
                               OR c.id IN (SELECT id FROM refs))
            SELECT '', count(*) FILTER (WHERE advocate), count(*) FILTER (WHERE NOT advocate)
            FROM people
            UNION ALL
            SELECT t.value, count(*) FILTER (WHERE p.advocate),
                   count(*) FILTER (WHERE NOT p.advocate)
            FROM people p, {self._json_items("p.tags", "t")} GROUP BY t.value
            """
        )
        return [(str(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in rows]


class ReferralsSQL(ReferralsQueries, DB):
    pass


class ReferralsPG(ReferralsQueries, PGDB):
    """Advocates and referrals on PostgreSQL: the same calls."""


def mint_advocate(customer_id: int, now: datetime) -> Statement:
    """The statement that gives a customer their referral code unless they have one (kept for
    good: links already shared keep working), for `ensure_advocate` and a promoter's answer."""
    return run(
        "INSERT INTO advocates (customer_id, code, created_at) VALUES (?, ?, ?) "
        "ON CONFLICT (customer_id) DO NOTHING",
        customer_id,
        secrets.token_urlsafe(9),
        now,
    )
