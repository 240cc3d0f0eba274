"""The survey loop: invitations, clicks, responses, complaints."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from daemon.clock import from_ms, to_ms
from daemon.engine.clicks import Click
from daemon.store.base import (
    Answer,
    ComplaintAlert,
    HistoryLine,
    Invitation,
    NewInvitation,
    Response,
    Saved,
    StoredEvent,
)
from daemon.store.db import DB
from daemon.store.events_sql import CUSTOMER_COLUMNS, customer_row
from daemon.store.privacy_sql import erased_keys

_INVITATION = (
    "id, public_id, customer_id, survey, state, reason, due_at, sent_at, reminder_at, expires_at, "
    "replied_at"
)


def _ms(value: datetime | None) -> int | None:
    return to_ms(value) if value is not None else None


def _at(value: int | None) -> datetime | None:
    return from_ms(value) if value is not None else None


def _invitation(r: Any) -> Invitation:
    return Invitation(
        id=r[0],
        public_id=r[1],
        customer_id=r[2],
        survey=r[3],
        state=r[4],
        reason=r[5],
        due_at=_at(r[6]),
        sent_at=_at(r[7]),
        reminder_at=_at(r[8]),
        expires_at=_at(r[9]),
        replied_at=_at(r[10]),
    )


class SurveysSQL(DB):
    async def unprocessed_events(self, limit: int) -> list[StoredEvent]:
        rows = await self._read(
            "SELECT seq, id, type, occurred_at, customer_id, json_extract(payload, '$.data') "
            "FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [
            StoredEvent(r[0], r[1], r[2], from_ms(r[3]), r[4], json.loads(r[5] or "{}"))
            for r in rows
        ]

    async def last_surveyed(self, customer_ids: Sequence[int]) -> dict[int, datetime]:
        """The latest survey due or sent to each customer, by any survey, or answer they gave
        (for the throttle: an answer by webhook, with no survey of ours, counts as surveyed)."""
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = await self._read(
            "SELECT customer_id, max(at) FROM ("
            "  SELECT customer_id, coalesce(sent_at, due_at) AS at FROM invitations"
            f"  WHERE customer_id IN ({marks}) AND state != 'skipped'"
            "  UNION ALL"
            f"  SELECT customer_id, answered_at FROM responses WHERE customer_id IN ({marks})"
            ") GROUP BY customer_id",
            [*ids, *ids],
        )
        return {int(r[0]): from_ms(r[1]) for r in rows if r[1] is not None}

    async def settle_event(
        self, seq: int, customer_id: int | None, plans: Sequence[NewInvitation], now: datetime
    ) -> list[int]:
        return (await self.settle_events([(seq, customer_id, plans)], now))[0]

    async def settle_events(
        self,
        decided: Sequence[tuple[int, int | None, Sequence[NewInvitation]]],
        now: datetime,
    ) -> list[list[int]]:
        """Record the engine's invitations for events and mark them processed, atomically.

        Safe to repeat: an event already processed, or an (event, survey) pair already planned,
        adds nothing. Returns the new invitation ids, event by event.
        """
        seqs = [seq for seq, _, _ in decided]
        marks = ", ".join("?" * len(seqs))
        async with self._write() as db:
            claimed = await db.execute_fetchall(
                f"UPDATE events SET processed_at = ? WHERE seq IN ({marks}) "
                "AND processed_at IS NULL RETURNING seq, id",
                (to_ms(now), *seqs),
            )
            event_ids = {int(r[0]): str(r[1]) for r in claimed}
            rows = [
                (
                    secrets.token_hex(16),
                    customer_id,
                    plan.survey,
                    event_ids[seq],
                    "skipped" if plan.reason else "scheduled",
                    plan.reason,
                    _ms(plan.due_at),
                    _ms(plan.expires_at),
                    to_ms(now),
                )
                for seq, customer_id, plans in decided
                if seq in event_ids and customer_id is not None
                for plan in plans
            ]
            if rows:
                await db.executemany(
                    """
                    INSERT INTO invitations (public_id, customer_id, survey, event_id, state,
                                             reason, due_at, expires_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (event_id, survey) DO NOTHING
                    """,
                    rows,
                )
            ids = sorted(set(event_ids.values()))
            found = (
                await db.execute_fetchall(
                    f"SELECT event_id, id FROM invitations WHERE event_id IN "
                    f"({', '.join('?' * len(ids))}) ORDER BY id",
                    ids,
                )
                if ids
                else []
            )
        by_event: dict[str, list[int]] = {}
        for event_id, invitation_id in found:
            by_event.setdefault(str(event_id), []).append(int(invitation_id))
        return [by_event.get(event_ids.get(seq, ""), []) for seq in seqs]

    async def due_invitations(self, now: datetime, limit: int) -> list[Invitation]:
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations WHERE state = 'scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (to_ms(now), limit),
        )
        return [_invitation(r) for r in rows]

    async def due_reminders(self, now: datetime, limit: int) -> list[Invitation]:
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations "
            "WHERE state = 'sent' AND reminder_at IS NOT NULL AND reminder_at <= ? "
            "ORDER BY reminder_at LIMIT ?",
            (to_ms(now), limit),
        )
        return [_invitation(r) for r in rows]

    async def invitation_sent(
        self, invitation_id: int, sent_at: datetime, reminder_at: datetime | None
    ) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE invitations SET state = 'sent', sent_at = ?, reminder_at = ? "
                "WHERE id = ? AND state = 'scheduled'",
                (to_ms(sent_at), _ms(reminder_at), invitation_id),
            )

    async def invitations_sent(self, sent: Sequence[tuple[int, datetime, datetime | None]]) -> None:
        """Mark many invitations sent at once: (id, sent_at, reminder_at)."""
        await self._write_many(
            [
                (
                    "UPDATE invitations SET state = 'sent', sent_at = ?, reminder_at = ? "
                    "WHERE id = ? AND state = 'scheduled'",
                    [(to_ms(at), _ms(later), invitation_id) for invitation_id, at, later in sent],
                )
            ]
        )

    async def invitations_reminded(self, ids: Sequence[int], at: datetime) -> None:
        await self._write_many(
            [
                (
                    "UPDATE invitations SET reminder_at = NULL, reminded_at = ? WHERE id = ?",
                    [(to_ms(at), invitation_id) for invitation_id in ids],
                )
            ]
        )

    async def invitation_reminded(self, invitation_id: int, at: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE invitations SET reminder_at = NULL, reminded_at = ? WHERE id = ?",
                (to_ms(at), invitation_id),
            )

    async def skip_invitation(self, invitation_id: int, reason: str) -> None:
        async with self._write() as db:
            await db.execute(
                "UPDATE invitations SET state = 'skipped', reason = ?, reminder_at = NULL "
                "WHERE id = ? AND state IN ('scheduled', 'sent')",
                (reason, invitation_id),
            )

    async def move_invitation(self, invitation_id: int, when: datetime, *, reminder: bool) -> None:
        """Push a due survey (or its reminder) to `when`, e.g. the next send window."""
        column = "reminder_at" if reminder else "due_at"
        async with self._write() as db:
            await db.execute(
                f"UPDATE invitations SET {column} = ? WHERE id = ?", (to_ms(when), invitation_id)
            )

    async def invitation(self, invitation_id: int) -> Invitation | None:
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations WHERE id = ?", (invitation_id,)
        )
        return _invitation(rows[0]) if rows else None

    async def invitations(self, invitation_ids: Iterable[int]) -> dict[int, Invitation]:
        """Many by id in one query (the sender renders a claimed batch of surveys)."""
        wanted = sorted(set(invitation_ids))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations WHERE id IN ({marks})", wanted
        )
        return {int(r[0]): _invitation(r) for r in rows}

    async def open_invitation(
        self, customer_id: int, survey: str, now: datetime
    ) -> Invitation | None:
        """The customer's latest unexpired invitation to this survey, if any."""
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations WHERE customer_id = ? AND survey = ? "
            "AND state IN ('scheduled', 'sent', 'answered') AND expires_at > ? "
            "ORDER BY due_at DESC LIMIT 1",
            (customer_id, survey, to_ms(now)),
        )
        return _invitation(rows[0]) if rows else None

    async def invitation_by_public_id(self, public_id: str) -> Invitation | None:
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations WHERE public_id = ?", (public_id,)
        )
        return _invitation(rows[0]) if rows else None

    async def add_click(self, invitation_id: int, score: int, at: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO clicks (invitation_id, score, at, state) VALUES (?, ?, ?, 'pending')",
                (invitation_id, score, to_ms(at)),
            )

    async def pending_clicks(self, limit: int) -> dict[int, list[Click]]:
        """Pending clicks of up to `limit` invitations, oldest first."""
        rows = await self._read(
            """
            SELECT invitation_id, id, score, at FROM clicks
            WHERE state = 'pending' AND invitation_id IN (
                SELECT DISTINCT invitation_id FROM clicks WHERE state = 'pending'
                ORDER BY at LIMIT ?
            )
            ORDER BY at
            """,
            (limit,),
        )
        found: dict[int, list[Click]] = {}
        for r in rows:
            found.setdefault(int(r[0]), []).append(Click(int(r[1]), int(r[2]), from_ms(r[3])))
        return found

    async def settle_clicks(self, scanner: Sequence[int], settled: Sequence[int]) -> None:
        async with self._write() as db:
            for click_id in settled:
                state = "scanner" if click_id in scanner else "confirmed"
                await db.execute("UPDATE clicks SET state = ? WHERE id = ?", (state, click_id))

    async def save_answer(self, answer: Answer, now: datetime) -> Saved:
        """Record or update the answer, mark the invitation answered, open a complaint for a
        detractor: one transaction, so an answer never exists without its consequences."""
        async with self._write() as db:
            return await _save_answer(db, answer, now)

    async def invitation_response(self, invitation_id: int) -> Response | None:
        rows = await self._read(
            "SELECT id, score, segment, comment, source FROM responses WHERE invitation_id = ?",
            (invitation_id,),
        )
        return Response(*rows[0]) if rows else None

    async def response_by_external_id(self, external_id: str) -> int | None:
        """The answer recorded under a caller's id (kept hashed once its person was forgotten)."""
        keys = [external_id, *erased_keys(self.erasure_keys, external_id)]
        rows = await self._read(
            f"SELECT id FROM responses WHERE external_id IN ({', '.join('?' * len(keys))})", keys
        )
        return int(rows[0][0]) if rows else None

    async def unalerted_complaints(self, limit: int) -> list[ComplaintAlert]:
        columns = ", ".join(f"c.{name.strip()}" for name in CUSTOMER_COLUMNS.split(","))
        rows = await self._read(
            f"""
            SELECT k.id, r.survey, r.score, r.comment, r.answered_at, r.id, {columns}
            FROM complaints k
            JOIN responses r ON r.id = k.response_id
            JOIN customers c ON c.id = k.customer_id
            WHERE k.alerted = 0 ORDER BY k.id LIMIT ?
            """,
            (limit,),
        )
        return [
            ComplaintAlert(
                complaint_id=int(r[0]),
                customer=customer_row(r[6:]),
                survey=r[1],
                score=int(r[2]),
                comment=r[3],
                answered_at=from_ms(r[4]),
                response_id=int(r[5]),
            )
            for r in rows
        ]

    async def complaint_alerted(self, complaint_id: int) -> None:
        async with self._write() as db:
            await db.execute("UPDATE complaints SET alerted = 1 WHERE id = ?", (complaint_id,))

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
        async with self._write() as db:
            cursor = await db.execute(
                f"UPDATE complaints SET state = 'resolved', resolved_at = ?, resolution = ? "
                f"WHERE {where} AND state = 'open'",
                (to_ms(now), note, key),
            )
            return int(cursor.rowcount)

    async def open_complaints(self, customer_id: int) -> int:
        rows = await self._read(
            "SELECT count(*) FROM complaints WHERE customer_id = ? AND state = 'open'",
            (customer_id,),
        )
        return int(rows[0][0])

    async def customer_history(self, customer_id: int, limit: int) -> list[HistoryLine]:
        """What happened with this customer, newest first: events, surveys, answers."""
        rows = await self._read(
            """
            SELECT at, what FROM (
                SELECT occurred_at AS at, 'event ' || type AS what FROM events
                WHERE customer_id = :c
                UNION ALL
                SELECT sent_at, 'survey ' || survey || ' sent' FROM invitations
                WHERE customer_id = :c AND sent_at IS NOT NULL
                UNION ALL
                SELECT answered_at, 'answered ' || score || ' (' || segment || ') to ' || survey
                       || coalesce(': "' || comment || '"', '')
                FROM responses WHERE customer_id = :c
                UNION ALL
                SELECT opened_at, 'complaint opened' FROM complaints WHERE customer_id = :c
                UNION ALL
                SELECT resolved_at, 'complaint resolved: ' || coalesce(resolution, '')
                FROM complaints WHERE customer_id = :c AND resolved_at IS NOT NULL
            ) ORDER BY at DESC LIMIT :n
            """,
            {"c": customer_id, "n": limit},
        )
        return [HistoryLine(from_ms(r[0]), str(r[1])) for r in rows]


async def _save_answer(db: aiosqlite.Connection, answer: Answer, now: datetime) -> Saved:
    existing = None
    if answer.invitation_id is not None:
        existing = await _one(
            db, "SELECT id FROM responses WHERE invitation_id = ?", (answer.invitation_id,)
        )
    if existing is None and answer.external_id is not None:
        existing = await _one(
            db, "SELECT id FROM responses WHERE external_id = ?", (answer.external_id,)
        )
    if existing is not None:
        response_id = int(existing[0])
        await db.execute(
            "UPDATE responses SET score = ?, segment = ?, source = ?, updated_at = ?, "
            "comment = coalesce(?, comment) WHERE id = ?",
            (answer.score, answer.segment, answer.source, to_ms(now), answer.comment, response_id),
        )
    else:
        row = await _one(
            db,
            """
            INSERT INTO responses (invitation_id, customer_id, survey, score, segment,
                                   comment, source, external_id, answered_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            RETURNING id
            """,
            (
                answer.invitation_id,
                answer.customer_id,
                answer.survey,
                answer.score,
                answer.segment,
                answer.comment,
                answer.source,
                answer.external_id,
                to_ms(answer.answered_at),
                to_ms(now),
            ),
        )
        assert row is not None
        response_id = int(row[0])
    if answer.invitation_id is not None:
        await db.execute(
            "UPDATE invitations SET state = 'answered', reminder_at = NULL "
            "WHERE id = ? AND state IN ('sent', 'scheduled')",
            (answer.invitation_id,),
        )
    complaint_id = None
    if answer.segment == "detractor":
        opened = await _one(
            db,
            "INSERT INTO complaints (customer_id, response_id, state, opened_at) "
            "VALUES (?, ?, 'open', ?) ON CONFLICT (response_id) DO NOTHING RETURNING id",
            (answer.customer_id, response_id, to_ms(now)),
        )
        complaint_id = int(opened[0]) if opened else None
    return Saved(response_id, existing is None, complaint_id)


async def _one(db: aiosqlite.Connection, sql: str, params: Sequence[Any]) -> Any:
    """The first row a statement returns, or None."""
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()
