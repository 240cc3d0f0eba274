"""The referral engine: advocates, asks, testimonials, replies, referrals, steps, rewards."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from daemon.clock import from_ms, to_ms
from daemon.engine.grades import Introduction
from daemon.store.base import Advocate, AskRow, Referral, Reward, Step
from daemon.store.db import DB

_ASK = "id, customer_id, moment, source, state, reason, due_at, created_at"
_REFERRAL = (
    "id, public_id, advocate_id, friend_name, friend_email, friend_phone, need, timing, "
    "relationship, expects_contact, advocate_introduces, reward_choice, grade, channel, flag, "
    "status, value"
)
_REWARD = "id, referral_id, advocate_id, description, code, state"


def _ask(r: Any) -> AskRow:
    return AskRow(
        r[0], r[1], r[2], r[3], r[4], r[5], from_ms(r[6]) if r[6] else None, from_ms(r[7])
    )


def _referral(r: Any) -> Referral:
    return Referral(
        id=r[0],
        public_id=r[1],
        advocate_id=r[2],
        friend_name=r[3],
        friend_email=r[4],
        friend_phone=r[5],
        need=r[6],
        timing=r[7],
        relationship=r[8],
        expects_contact=bool(r[9]),
        advocate_introduces=bool(r[10]),
        reward_choice=r[11],
        grade=r[12],
        channel=r[13],
        flag=r[14],
        status=r[15],
        value=r[16],
    )


class ReferralsSQL(DB):
    # asks -------------------------------------------------------------------------------------

    async def ask_facts(
        self, customer_id: int
    ) -> tuple[str | None, int, tuple[int, datetime] | None, list[datetime]]:
        """(suppression reason, open complaints, latest score, asks sent or scheduled)."""
        rows = await self._read(
            """
            SELECT
              (SELECT s.reason FROM suppressions s JOIN customers c
               ON s.email IN (c.email, 'sha256:' || vouch_sha256(c.email)) WHERE c.id = :c),
              (SELECT count(*) FROM complaints WHERE customer_id = :c AND state = 'open'),
              (SELECT score FROM responses WHERE customer_id = :c
               ORDER BY answered_at DESC LIMIT 1),
              (SELECT answered_at FROM responses WHERE customer_id = :c
               ORDER BY answered_at DESC LIMIT 1)
            """,
            {"c": customer_id},
        )
        reason, complaints, score, answered = rows[0]
        asks = await self._read(
            "SELECT coalesce(sent_at, due_at) FROM asks WHERE customer_id = ? "
            "AND state IN ('scheduled', 'sent')",
            (customer_id,),
        )
        latest = (int(score), from_ms(answered)) if score is not None else None
        return reason, int(complaints), latest, [from_ms(r[0]) for r in asks]

    async def add_ask(
        self,
        customer_id: int,
        moment: str,
        source: str,
        *,
        state: str,
        reason: str | None,
        due_at: datetime | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> int | None:
        """Record a moment's decision; None when this moment was considered before."""
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT INTO asks (customer_id, moment, source, state, reason, due_at, expires_at,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (moment, source) DO NOTHING RETURNING id",
                (
                    customer_id,
                    moment,
                    source,
                    state,
                    reason,
                    to_ms(due_at) if due_at else None,
                    to_ms(expires_at) if expires_at else None,
                    to_ms(now),
                ),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def update_ask(
        self, ask_id: int, *, state: str, reason: str | None, due_at: datetime | None
    ) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE asks SET state = ?, reason = ?, due_at = ? WHERE id = ?",
                (state, reason, to_ms(due_at) if due_at else None, ask_id),
            )

    async def ask_sent(self, ask_id: int, at: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE asks SET state = 'sent', sent_at = ? WHERE id = ? AND state = 'scheduled'",
                (to_ms(at), ask_id),
            )

    async def due_asks(self, now: datetime, limit: int) -> list[AskRow]:
        rows = await self._read(
            f"SELECT {_ASK} FROM asks WHERE state = 'scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (to_ms(now), limit),
        )
        return [_ask(r) for r in rows]

    async def waiting_asks(self, now: datetime, limit: int) -> list[tuple[AskRow, bool]]:
        """Waiting asks whose customer has answered since, or whose wait ran out (True)."""
        rows = await self._read(
            f"""
            SELECT {", ".join("a." + c.strip() for c in _ASK.split(","))}, a.expires_at <= :now
            FROM asks a WHERE a.state = 'waiting' AND (
                a.expires_at <= :now OR EXISTS (
                    SELECT 1 FROM responses r
                    WHERE r.customer_id = a.customer_id AND r.answered_at >= a.created_at))
            ORDER BY a.id LIMIT :n
            """,
            {"now": to_ms(now), "n": limit},
        )
        return [(_ask(r[:8]), bool(r[8])) for r in rows]

    async def asks_of(self, customer_id: int) -> list[AskRow]:
        rows = await self._read(
            f"SELECT {_ASK} FROM asks WHERE customer_id = ? ORDER BY id", (customer_id,)
        )
        return [_ask(r) for r in rows]

    # advocates, testimonials, replies ---------------------------------------------------------

    async def ensure_advocate(self, customer_id: int, now: datetime) -> Advocate:
        """The customer's referral code, made once and kept (their links keep working)."""
        async with self._write() as db:
            await db.execute(
                "INSERT INTO advocates (customer_id, code, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (customer_id) DO NOTHING",
                (customer_id, secrets.token_urlsafe(9), to_ms(now)),
            )
            rows = await db.execute_fetchall(
                "SELECT id, customer_id, code FROM advocates WHERE customer_id = ?", (customer_id,)
            )
        (row,) = rows
        return Advocate(int(row[0]), int(row[1]), str(row[2]))

    async def advocate_by_code(self, code: str) -> Advocate | None:
        rows = await self._read(
            "SELECT id, customer_id, code FROM advocates WHERE code = ?", (code,)
        )
        return Advocate(int(rows[0][0]), int(rows[0][1]), str(rows[0][2])) if rows else None

    async def advocate(self, advocate_id: int) -> Advocate | None:
        rows = await self._read(
            "SELECT id, customer_id, code FROM advocates WHERE id = ?", (advocate_id,)
        )
        return Advocate(int(rows[0][0]), int(rows[0][1]), str(rows[0][2])) if rows else None

    async def add_testimonial(
        self,
        customer_id: int,
        text: str,
        source: str,
        solicited: bool,
        origin: str,
        at: datetime,
    ) -> int | None:
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT INTO testimonials (customer_id, text, source, solicited, origin, "
                "received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO NOTHING "
                "RETURNING id",
                (customer_id, text, source, int(solicited), origin, to_ms(at)),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def sent_email(self, message_id: str) -> tuple[int, int | None, str, str] | None:
        """(outbox id, customer id, kind, dedupe key) of an email Vouch sent, by Message-ID."""
        rows = await self._read(
            "SELECT id, customer_id, kind, dedupe_key FROM outbox WHERE message_id = ?",
            (message_id,),
        )
        return (int(rows[0][0]), rows[0][1], str(rows[0][2]), str(rows[0][3])) if rows else None

    async def add_reply(
        self,
        *,
        customer_id: int | None,
        outbox_id: int | None,
        from_addr: str,
        subject: str | None,
        text: str,
        verdict: str,
        explanation: str,
        dedupe: str,
        at: datetime,
        invitation_id: int | None = None,
    ) -> int | None:
        """Store a reply (None: received before). A reply to a survey or reminder email
        (`invitation_id`) counts as an answer for reminders: none is sent after it."""
        async with self._write() as db:
            cursor = await db.execute(
                "INSERT INTO replies (customer_id, outbox_id, from_addr, subject, text, verdict, "
                "explanation, dedupe, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dedupe) DO NOTHING RETURNING id",
                (
                    customer_id,
                    outbox_id,
                    from_addr,
                    subject,
                    text,
                    verdict,
                    explanation,
                    dedupe,
                    to_ms(at),
                ),
            )
            row = await cursor.fetchone()
            if row and invitation_id is not None:
                await db.execute(
                    "UPDATE invitations SET replied_at = coalesce(replied_at, ?), "
                    "reminder_at = NULL WHERE id = ?",
                    (to_ms(at), invitation_id),
                )
        return int(row[0]) if row else None

    async def has_history(self, email: str) -> bool:
        """A customer in their own right (events recorded), not just a name someone gave us."""
        rows = await self._read(
            "SELECT 1 FROM customers c JOIN events e ON e.customer_id = c.id "
            "WHERE c.email = ? LIMIT 1",
            (email.lower(),),
        )
        return bool(rows)

    # referrals --------------------------------------------------------------------------------

    async def add_referral(
        self,
        advocate_id: int,
        intro: Introduction,
        *,
        grade: str,
        channel: str,
        flag: str | None,
        friend_customer_id: int | None,
        now: datetime,
    ) -> Referral:
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"""
                INSERT INTO referrals (public_id, advocate_id, friend_customer_id, friend_name,
                    friend_email, friend_phone, need, timing, relationship, expects_contact,
                    advocate_introduces, public_thanks_ok, reward_choice, grade, channel, flag,
                    status, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'new', ?, ?)
                RETURNING {_REFERRAL}
                """,
                (
                    "r_" + secrets.token_urlsafe(12),
                    advocate_id,
                    friend_customer_id,
                    intro.friend_name,
                    intro.friend_email,
                    intro.friend_phone,
                    intro.need,
                    intro.timing,
                    intro.relationship,
                    int(intro.expects_contact),
                    int(intro.advocate_introduces),
                    int(intro.public_thanks_ok),
                    intro.reward_choice,
                    grade,
                    channel,
                    flag,
                    to_ms(now),
                    to_ms(now),
                ),
            )
        return _referral(next(iter(rows)))

    async def referral(self, public_id: str) -> Referral | None:
        rows = await self._read(
            f"SELECT {_REFERRAL} FROM referrals WHERE public_id = ?", (public_id,)
        )
        return _referral(rows[0]) if rows else None

    async def referral_by_id(self, referral_id: int) -> Referral | None:
        rows = await self._read(f"SELECT {_REFERRAL} FROM referrals WHERE id = ?", (referral_id,))
        return _referral(rows[0]) if rows else None

    async def referrals_since(self, advocate_id: int, since: datetime) -> int:
        rows = await self._read(
            "SELECT count(*) FROM referrals WHERE advocate_id = ? AND created_at >= ?",
            (advocate_id, to_ms(since)),
        )
        return int(rows[0][0])

    async def unnotified_referrals(self, limit: int) -> list[Referral]:
        rows = await self._read(
            f"SELECT {_REFERRAL} FROM referrals WHERE notified = 0 ORDER BY id LIMIT ?", (limit,)
        )
        return [_referral(r) for r in rows]

    async def referral_notified(self, referral_id: int) -> None:
        async with self._write() as db:
            await db.execute("UPDATE referrals SET notified = 1 WHERE id = ?", (referral_id,))

    async def move_referral(
        self,
        referral_id: int,
        status: str,
        *,
        value: float | None,
        note: str | None,
        shared: bool,
        now: datetime,
    ) -> None:
        """A step on the referral's road, recorded with whether the advocate is to be told."""
        at = to_ms(now)
        async with self._write() as db:
            await db.execute(
                """
                UPDATE referrals SET status = ?, value = coalesce(?, value), updated_at = ?,
                    contacted_at = CASE WHEN ? = 'contacted' THEN coalesce(contacted_at, ?)
                                        ELSE contacted_at END,
                    closed_at = CASE WHEN ? IN ('won', 'lost') THEN ? ELSE closed_at END
                WHERE id = ?
                """,
                (status, value, at, status, at, status, at, referral_id),
            )
            await db.execute(
                "INSERT INTO referral_steps (referral_id, status, note, shared, notified, at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (referral_id, status, note, int(shared), 0 if shared else 1, at),
            )

    async def unnotified_steps(self, limit: int) -> list[Step]:
        columns = ", ".join("r." + c.strip() for c in _REFERRAL.split(","))
        rows = await self._read(
            f"SELECT s.id, s.status, s.note, {columns} FROM referral_steps s "
            "JOIN referrals r ON r.id = s.referral_id WHERE s.notified = 0 ORDER BY s.id LIMIT ?",
            (limit,),
        )
        return [Step(int(r[0]), _referral(r[3:]), str(r[1]), r[2]) for r in rows]

    async def step_notified(self, step_id: int) -> None:
        async with self._write() as db:
            await db.execute("UPDATE referral_steps SET notified = 1 WHERE id = ?", (step_id,))

    # rewards ----------------------------------------------------------------------------------

    async def create_reward(
        self,
        referral: Referral,
        *,
        description: str,
        kind: str,
        code_prefix: str,
        approval: bool,
        now: datetime,
    ) -> Reward:
        """The reward for a won referral, made once: a second call returns the first."""
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"SELECT {_REWARD} FROM rewards WHERE referral_id = ?", (referral.id,)
            )
            if rows:
                return Reward(*next(iter(rows)))
            code: str | None = None
            state = "awaiting_approval" if approval else "issued"
            if kind == "generated":
                code = code_prefix + secrets.token_hex(4).upper()
            cursor = await db.execute(
                f"INSERT INTO rewards (referral_id, advocate_id, description, code, state, "
                f"created_at, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_REWARD}",
                (
                    referral.id,
                    referral.advocate_id,
                    description,
                    code,
                    "awaiting_code" if kind == "pool" else state,
                    to_ms(now),
                    None if approval or kind == "pool" else to_ms(now),
                ),
            )
            row = await cursor.fetchone()
            assert row is not None
            reward = Reward(*row)
            if kind == "pool":
                await self._assign_codes(db, state, now)
                rows = await db.execute_fetchall(
                    f"SELECT {_REWARD} FROM rewards WHERE id = ?", (reward.id,)
                )
                reward = Reward(*next(iter(rows)))
        return reward

    async def _assign_codes(self, db: Any, state: str, now: datetime) -> None:
        """Give pool codes to rewards waiting for one, oldest first; a code is used once."""
        waiting = await db.execute_fetchall(
            "SELECT id FROM rewards WHERE state = 'awaiting_code' ORDER BY id"
        )
        for (reward_id,) in waiting:
            cursor = await db.execute(
                "UPDATE reward_codes SET reward_id = ? WHERE code = (SELECT code FROM "
                "reward_codes WHERE reward_id IS NULL ORDER BY loaded_at, code LIMIT 1) "
                "RETURNING code",
                (reward_id,),
            )
            taken = await cursor.fetchone()
            if taken is None:
                return
            issued = to_ms(now) if state == "issued" else None
            await db.execute(
                "UPDATE rewards SET code = ?, state = ?, issued_at = ? WHERE id = ?",
                (taken[0], state, issued, reward_id),
            )

    async def load_reward_codes(self, codes: Sequence[str], now: datetime, state: str) -> int:
        async with self._write() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT INTO reward_codes (code, loaded_at) VALUES (?, ?) "
                "ON CONFLICT (code) DO NOTHING",
                [(code, to_ms(now)) for code in codes],
            )
            added = db.total_changes - before
            await self._assign_codes(db, state, now)
        return int(added)

    async def approve_reward(self, referral_id: int, now: datetime) -> Reward | None:
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"UPDATE rewards SET state = 'issued', issued_at = ? WHERE referral_id = ? "
                f"AND state = 'awaiting_approval' RETURNING {_REWARD}",
                (to_ms(now), referral_id),
            )
        found = list(rows)
        return Reward(*found[0]) if found else None

    async def unnotified_rewards(self, limit: int) -> list[Reward]:
        rows = await self._read(
            f"SELECT {_REWARD} FROM rewards WHERE notified = 0 AND state = 'issued' "
            "ORDER BY id LIMIT ?",
            (limit,),
        )
        return [Reward(*r) for r in rows]

    async def reward_notified(self, reward_id: int) -> None:
        async with self._write() as db:
            await db.execute("UPDATE rewards SET notified = 1 WHERE id = ?", (reward_id,))

    async def rewards_of(self, advocate_id: int) -> list[Reward]:
        rows = await self._read(
            f"SELECT {_REWARD} FROM rewards WHERE advocate_id = ? ORDER BY id", (advocate_id,)
        )
        return [Reward(*r) for r in rows]

    # sources ----------------------------------------------------------------------------------

    async def referral_facts(self) -> list[tuple[Any, ...]]:
        """One row per referral with its advocate: the raw material of the sources report.
        Partners' referrals are in their own report (partner_facts)."""
        rows = await self._read(
            """
            SELECT a.id, c.name, c.email, r.grade, r.status, r.value, r.flag,
                   r.created_at, r.contacted_at, r.closed_at
            FROM referrals r JOIN advocates a ON a.id = r.advocate_id
            JOIN customers c ON c.id = a.customer_id
            WHERE a.id NOT IN (SELECT advocate_id FROM partners)
            ORDER BY a.id, r.id
            """
        )
        return [tuple(r) for r in rows]

    async def tags_by_kind(self) -> list[tuple[str, int, int]]:
        """Per tag: how many advocates (customers who referred) and other customers carry it,
        plus a ("", advocates, others) row with the totals. Partners are not customers."""
        rows = await self._read(
            """
            WITH refs AS (SELECT DISTINCT a.customer_id AS id FROM referrals r
                          JOIN advocates a ON a.id = r.advocate_id
                          WHERE a.id NOT IN (SELECT advocate_id FROM partners)),
                 real AS (SELECT DISTINCT customer_id AS id FROM events
                          WHERE customer_id IS NOT NULL),
                 people AS (SELECT c.id, c.tags, c.id IN (SELECT id FROM refs) AS advocate
                            FROM customers c WHERE c.id IN (SELECT id FROM real)
                               OR c.id IN (SELECT id FROM refs))
            SELECT '', sum(advocate), sum(NOT advocate) FROM people
            UNION ALL
            SELECT t.value, sum(p.advocate), sum(NOT p.advocate)
            FROM people p, json_each(p.tags) t GROUP BY t.value
            """
        )
        return [(str(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in rows]
