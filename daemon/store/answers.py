"""Responses however they came (page, email click, webhook, reply), and the complaints they open."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from daemon.engine.clicks import Click
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.privacy import erased_keys
from daemon.store.queries import Queries, Script, run
from daemon.store.referrals import mint_advocate
from daemon.store.rows import (
    CUSTOMER_COLUMNS,
    Answer,
    ComplaintAlert,
    Response,
    Saved,
    as_time,
    customer_row,
)


class Answers(Protocol):
    """Responses, the email clicks that become them, and the complaints a detractor opens."""

    async def add_click(self, invitation_id: int, score: int, at: datetime) -> None: ...
    async def pending_clicks(self, limit: int) -> dict[int, list[Click]]: ...
    async def settle_clicks(self, scanner: Sequence[int], settled: Sequence[int]) -> None: ...
    async def save_answer(self, answer: Answer, now: datetime) -> Saved: ...
    async def invitation_response(self, invitation_id: int) -> Response | None: ...
    async def response_by_external_id(self, external_id: str) -> int | None: ...
    async def unalerted_complaints(self, limit: int) -> list[ComplaintAlert]: ...
    async def complaint_alerted(self, complaint_id: int) -> None: ...
    async def resolve_complaints(
        self, *, customer_id: int | None, complaint_id: int | None, note: str, now: datetime
    ) -> int: ...
    async def open_complaints(self, customer_id: int) -> int: ...


class AnswersQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def add_click(self, invitation_id: int, score: int, at: datetime) -> None:
        await self._apply(
            "INSERT INTO clicks (invitation_id, score, at, state) VALUES (?, ?, ?, 'pending')",
            invitation_id,
            score,
            at,
        )

    async def pending_clicks(self, limit: int) -> dict[int, list[Click]]:
        """Pending clicks of up to `limit` invitations, oldest first."""
        rows = await self._fetch(
            """
            SELECT invitation_id, id, score, at FROM clicks
            WHERE state = 'pending' AND invitation_id IN (
                SELECT invitation_id FROM clicks WHERE state = 'pending'
                GROUP BY invitation_id ORDER BY min(at) LIMIT ?
            )
            ORDER BY at, id
            """,
            limit,
        )
        found: dict[int, list[Click]] = {}
        for r in rows:
            found.setdefault(int(r[0]), []).append(Click(int(r[1]), int(r[2]), as_time(r[3])))
        return found

    async def settle_clicks(self, scanner: Sequence[int], settled: Sequence[int]) -> None:
        await self._write_many(
            [
                (
                    "UPDATE clicks SET state = ? WHERE id = ?",
                    [
                        ("scanner" if click_id in scanner else "confirmed", click_id)
                        for click_id in settled
                    ],
                )
            ]
        )

    async def save_answer(self, answer: Answer, now: datetime) -> Saved:
        """Record or update the answer, mark the invitation answered, open a complaint for a
        detractor, mint a promoter's referral code: one transaction, so an answer never exists
        without its consequences (one script: on SQLite one trip, a hot transaction)."""
        return await self._script(_save_answer(answer, now))

    async def invitation_response(self, invitation_id: int) -> Response | None:
        rows = await self._fetch(
            "SELECT id, score, segment, comment, source FROM responses WHERE invitation_id = ?",
            invitation_id,
        )
        return Response(*rows[0]) if rows else None

    async def response_by_external_id(self, external_id: str) -> int | None:
        """The answer recorded under a caller's id (kept hashed once its person was forgotten)."""
        among, keys = self._in([external_id, *erased_keys(self.erasure_keys, external_id)])
        found = await self._value(f"SELECT id FROM responses WHERE external_id {among}", *keys)
        return None if found is None else int(found)

    async def unalerted_complaints(self, limit: int) -> list[ComplaintAlert]:
        columns = ", ".join(f"c.{name.strip()}" for name in CUSTOMER_COLUMNS.split(","))
        rows = await self._fetch(
            f"""
            SELECT k.id, r.survey, r.score, r.comment, r.answered_at, r.id, {columns}
            FROM complaints k
            JOIN responses r ON r.id = k.response_id
            JOIN customers c ON c.id = k.customer_id
            WHERE k.alerted = 0 ORDER BY k.id LIMIT ?
            """,
            limit,
        )
        return [
            ComplaintAlert(
                complaint_id=int(r[0]),
                customer=customer_row(r[6:]),
                survey=r[1],
                score=int(r[2]),
                comment=r[3],
                answered_at=as_time(r[4]),
                response_id=int(r[5]),
            )
            for r in rows
        ]

    async def complaint_alerted(self, complaint_id: int) -> None:
        await self._apply("UPDATE complaints SET alerted = 1 WHERE id = ?", complaint_id)

    async def resolve_complaints(
        self, *, customer_id: int | None, complaint_id: int | None, note: str, now: datetime
    ) -> int:
        """Close open complaints (one by id, or all of a customer's); returns how many."""
        if complaint_id is not None:
            where, key = "id = ?", complaint_id
        elif customer_id is not None:
            where, key = "customer_id = ?", customer_id
        else:
            raise ValueError("resolve needs a complaint id or a customer")
        return await self._apply(
            f"UPDATE complaints SET state = 'resolved', resolved_at = ?, resolution = ? "
            f"WHERE {where} AND state = 'open'",
            now,
            note,
            key,
        )

    async def open_complaints(self, customer_id: int) -> int:
        return int(
            await self._value(
                "SELECT count(*) FROM complaints WHERE customer_id = ? AND state = 'open'",
                customer_id,
            )
        )


class AnswersSQL(AnswersQueries, DB):
    pass


class AnswersPG(AnswersQueries, PGDB):
    """Answers on PostgreSQL: the same calls."""


def _save_answer(answer: Answer, now: datetime) -> Script[Saved]:
    existing = None
    if answer.invitation_id is not None:
        existing = yield run(
            "SELECT id FROM responses WHERE invitation_id = ?", answer.invitation_id
        )
    if not existing and answer.external_id is not None:
        existing = yield run("SELECT id FROM responses WHERE external_id = ?", answer.external_id)
    if existing:
        response_id = int(existing[0][0])
        yield run(
            "UPDATE responses SET score = ?, segment = ?, source = ?, updated_at = ?, "
            "comment = coalesce(?, comment) WHERE id = ?",
            answer.score,
            answer.segment,
            answer.source,
            now,
            answer.comment,
            response_id,
        )
    else:
        (row,) = yield run(
            """
            INSERT INTO responses (invitation_id, customer_id, survey, score, segment,
                                   comment, source, external_id, answered_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING id
            """,
            answer.invitation_id,
            answer.customer_id,
            answer.survey,
            answer.score,
            answer.segment,
            answer.comment,
            answer.source,
            answer.external_id,
            answer.answered_at,
            now,
        )
        response_id = int(row[0])
    if answer.invitation_id is not None:
        yield run(
            "UPDATE invitations SET state = 'answered', reminder_at = NULL "
            "WHERE id = ? AND state IN ('sent', 'scheduled')",
            answer.invitation_id,
        )
    complaint_id = None
    if answer.segment == "detractor":
        opened = yield run(
            "INSERT INTO complaints (customer_id, response_id, state, opened_at) "
            "VALUES (?, ?, 'open', ?) ON CONFLICT (response_id) DO NOTHING RETURNING id",
            answer.customer_id,
            response_id,
            now,
        )
        complaint_id = int(opened[0][0]) if opened else None
    if answer.segment == "promoter":  # their code, for the thank-you page's share link
        yield mint_advocate(answer.customer_id, now)
    return Saved(response_id, not existing, complaint_id)
