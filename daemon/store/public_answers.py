"""Answers given through a survey's public link (a printed invoice, a text message, the
counter), where the person types their address: kept here, apart from the customers' answers,
until a customer confirms one from their inbox (then it is their answer, in `responses`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.rows import read

STATES = ("pending", "counted", "throttled", "apart")

_COLUMNS = (
    "id, public_id, survey, email, customer_id, score, comment, locale, state, created_at, "
    "settled_at"
)
_COUNTS = (
    "SELECT state, count(*), sum(CASE WHEN score >= 9 THEN 1 ELSE 0 END), "
    "sum(CASE WHEN score <= 6 THEN 1 ELSE 0 END) FROM public_answers GROUP BY state"
)


@dataclass(frozen=True)
class PublicAnswer:
    id: int
    public_id: str
    survey: str
    email: str
    customer_id: int | None
    score: int
    comment: str | None
    locale: str | None
    state: str  # one of STATES
    created_at: datetime
    settled_at: datetime | None


@dataclass(frozen=True)
class PublicTally:
    """The public link's answers in one state: how many, and how many 9-10 and 0-6."""

    answers: int
    promoters: int
    detractors: int


class PublicAnswers(Protocol):
    async def add_public_answer(
        self,
        survey: str,
        email: str,
        customer_id: int | None,
        score: int,
        comment: str | None,
        locale: str | None,
        now: datetime,
    ) -> PublicAnswer:
        """Keep an answer: pending when it names a customer (until they confirm it), else
        apart. `email` is stored lower-cased."""

    async def pending_since(self, email: str, since: datetime) -> bool:
        """Whether an answer for `email` has waited for confirmation since `since` (one
        confirmation email a day at most, however often a stranger types the address)."""

    async def public_answer(self, public_id: str) -> PublicAnswer | None: ...

    async def settle_public_answer(
        self, answer_id: int, state: str, now: datetime, *, was: str = "pending"
    ) -> bool:
        """Move an answer from `was` (pending) to `state`; False when it was no longer in
        `was` (confirmed twice: the second changes nothing)."""

    async def public_tallies(self) -> dict[str, PublicTally]: ...


class PublicAnswersSQL(DB):
    async def add_public_answer(
        self,
        survey: str,
        email: str,
        customer_id: int | None,
        score: int,
        comment: str | None,
        locale: str | None,
        now: datetime,
    ) -> PublicAnswer:
        state = "pending" if customer_id is not None else "apart"
        settled = None if customer_id is not None else to_ms(now)
        public_id = secrets.token_hex(16)
        await self._write_one(
            "INSERT INTO public_answers (public_id, survey, email, customer_id, score, comment, "
            "locale, state, created_at, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (public_id, survey, email.lower(), customer_id, score, comment, locale, state,
             to_ms(now), settled),
        )  # fmt: skip
        found = await self.public_answer(public_id)
        assert found is not None
        return found

    async def pending_since(self, email: str, since: datetime) -> bool:
        rows = await self._read(
            "SELECT 1 FROM public_answers WHERE email = ? AND state = 'pending' "
            "AND created_at >= ? LIMIT 1",
            (email.lower(), to_ms(since)),
        )
        return bool(rows)

    async def public_answer(self, public_id: str) -> PublicAnswer | None:
        return await self._row(
            PublicAnswer,
            f"SELECT {_COLUMNS} FROM public_answers WHERE public_id = ?",
            (public_id,),
        )

    async def settle_public_answer(
        self, answer_id: int, state: str, now: datetime, *, was: str = "pending"
    ) -> bool:
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE public_answers SET state = ?, settled_at = ? WHERE id = ? AND state = ?",
                (state, to_ms(now), answer_id, was),
            )
            return cursor.rowcount == 1

    async def public_tallies(self) -> dict[str, PublicTally]:
        rows = await self._read(_COUNTS)
        return {str(r[0]): PublicTally(int(r[1]), int(r[2]), int(r[3])) for r in rows}


class PublicAnswersPG(PGDB):
    async def add_public_answer(
        self,
        survey: str,
        email: str,
        customer_id: int | None,
        score: int,
        comment: str | None,
        locale: str | None,
        now: datetime,
    ) -> PublicAnswer:
        state = "pending" if customer_id is not None else "apart"
        async with self._write() as db:
            row = await db.fetchrow(
                "INSERT INTO public_answers (public_id, survey, email, customer_id, score, "
                "comment, locale, state, created_at, settled_at) "
                f"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}",
                secrets.token_hex(16), survey, email.lower(), customer_id, score, comment,
                locale, state, now, None if customer_id is not None else now,
            )  # fmt: skip
        return read(PublicAnswer, row)

    async def pending_since(self, email: str, since: datetime) -> bool:
        rows = await self._read(
            "SELECT 1 FROM public_answers WHERE email = $1 AND state = 'pending' "
            "AND created_at >= $2 LIMIT 1",
            email.lower(),
            since,
        )
        return bool(rows)

    async def public_answer(self, public_id: str) -> PublicAnswer | None:
        rows = await self._read(
            f"SELECT {_COLUMNS} FROM public_answers WHERE public_id = $1", public_id
        )
        return read(PublicAnswer, rows[0]) if rows else None

    async def settle_public_answer(
        self, answer_id: int, state: str, now: datetime, *, was: str = "pending"
    ) -> bool:
        async with self._write() as db:
            status = await db.execute(
                "UPDATE public_answers SET state = $1, settled_at = $2 "
                "WHERE id = $3 AND state = $4",
                state,
                now,
                answer_id,
                was,
            )
        return bool(status == "UPDATE 1")

    async def public_tallies(self) -> dict[str, PublicTally]:
        rows = await self._read(_COUNTS)
        return {str(r[0]): PublicTally(int(r[1]), int(r[2]), int(r[3])) for r in rows}
