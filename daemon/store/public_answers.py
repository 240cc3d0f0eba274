"""Answers given through a survey's public link (a printed invoice, a text message, the
counter), where the person types their address: kept here, apart from the customers' answers,
until a customer confirms one from their inbox (then it is their answer, in `responses`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
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
class NewPublicAnswer:
    """An answer as the public page takes it; `customer_id` is the customer's whose address was
    typed, None for an address that is nobody's."""

    survey: str
    email: str
    customer_id: int | None
    score: int
    comment: str | None
    locale: str | None


@dataclass(frozen=True)
class PublicTally:
    """The public link's answers in one state: how many, and how many 9-10 and 0-6."""

    answers: int
    promoters: int
    detractors: int


class PublicAnswers(Protocol):
    async def add_public_answer(self, new: NewPublicAnswer, now: datetime) -> PublicAnswer:
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


class PublicAnswersQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def add_public_answer(self, new: NewPublicAnswer, now: datetime) -> PublicAnswer:
        known = new.customer_id is not None
        state = "pending" if known else "apart"
        (row,) = await self._write_rows(
            "INSERT INTO public_answers (public_id, survey, email, customer_id, score, comment, "
            f"locale, state, created_at, settled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            f"RETURNING {_COLUMNS}",
            secrets.token_hex(16), new.survey, new.email.lower(), new.customer_id, new.score,
            new.comment, new.locale, state, now, None if known else now,
        )  # fmt: skip
        return read(PublicAnswer, row)

    async def pending_since(self, email: str, since: datetime) -> bool:
        found = await self._value(
            "SELECT 1 FROM public_answers WHERE email = ? AND state = 'pending' "
            "AND created_at >= ? LIMIT 1",
            email.lower(),
            since,
        )
        return found is not None

    async def public_answer(self, public_id: str) -> PublicAnswer | None:
        return await self._one(
            PublicAnswer, f"SELECT {_COLUMNS} FROM public_answers WHERE public_id = ?", public_id
        )

    async def settle_public_answer(
        self, answer_id: int, state: str, now: datetime, *, was: str = "pending"
    ) -> bool:
        changed = await self._apply(
            "UPDATE public_answers SET state = ?, settled_at = ? WHERE id = ? AND state = ?",
            state,
            now,
            answer_id,
            was,
        )
        return changed == 1

    async def public_tallies(self) -> dict[str, PublicTally]:
        rows = await self._fetch(_COUNTS)
        return {str(r[0]): PublicTally(int(r[1]), int(r[2]), int(r[3])) for r in rows}


class PublicAnswersSQL(PublicAnswersQueries, DB):
    pass


class PublicAnswersPG(PublicAnswersQueries, PGDB):
    pass
