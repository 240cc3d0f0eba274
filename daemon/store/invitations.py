"""Invitations: the engine's plans for each event, then each invitation's sending and reminder."""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.clock import from_ms, to_ms
from daemon.store.db import DB
from daemon.store.rows import Invitation, NewInvitation, StoredEvent, read

_INVITATION = (
    "id, public_id, customer_id, survey, state, reason, due_at, sent_at, reminder_at, expires_at, "
    "replied_at"
)


class Invitations(Protocol):
    """The survey loop's invitations: planned from events, due, sent, reminded, moved or skipped."""

    async def unprocessed_events(self, limit: int) -> list[StoredEvent]: ...
    async def last_surveyed(self, customer_ids: Sequence[int]) -> dict[int, datetime]: ...
    async def settle_event(
        self, seq: int, customer_id: int | None, plans: Sequence[NewInvitation], now: datetime
    ) -> list[int]: ...
    async def settle_events(
        self,
        decided: Sequence[tuple[int, int | None, Sequence[NewInvitation]]],
        now: datetime,
    ) -> list[list[int]]: ...
    async def due_invitations(self, now: datetime, limit: int) -> list[Invitation]: ...
    async def due_reminders(self, now: datetime, limit: int) -> list[Invitation]: ...
    async def invitation_sent(
        self, invitation_id: int, sent_at: datetime, reminder_at: datetime | None
    ) -> None: ...
    async def invitations_sent(
        self, sent: Sequence[tuple[int, datetime, datetime | None]]
    ) -> None: ...
    async def invitations_reminded(self, ids: Sequence[int], at: datetime) -> None: ...
    async def invitation_reminded(self, invitation_id: int, at: datetime) -> None: ...
    async def skip_invitation(self, invitation_id: int, reason: str) -> None: ...
    async def move_invitation(
        self, invitation_id: int, when: datetime, *, reminder: bool
    ) -> None: ...
    async def invitation(self, invitation_id: int) -> Invitation | None: ...
    async def invitations(self, invitation_ids: Iterable[int]) -> dict[int, Invitation]: ...
    async def open_invitation(
        self, customer_id: int, survey: str, now: datetime
    ) -> Invitation | None: ...
    async def invitation_by_public_id(self, public_id: str) -> Invitation | None: ...


class InvitationsSQL(DB):
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

        def work(db: sqlite3.Connection) -> tuple[dict[int, str], list[Any]]:
            claimed = db.execute(
                f"UPDATE events SET processed_at = ? WHERE seq IN ({marks}) "
                "AND processed_at IS NULL RETURNING seq, id",
                (to_ms(now), *seqs),
            ).fetchall()
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
                db.executemany(
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
                db.execute(
                    f"SELECT event_id, id FROM invitations WHERE event_id IN "
                    f"({', '.join('?' * len(ids))}) ORDER BY id",
                    ids,
                ).fetchall()
                if ids
                else []
            )
            return event_ids, found

        event_ids, found = await self._transaction(work)
        by_event: dict[str, list[int]] = {}
        for event_id, invitation_id in found:
            by_event.setdefault(str(event_id), []).append(int(invitation_id))
        return [by_event.get(event_ids.get(seq, ""), []) for seq in seqs]

    async def due_invitations(self, now: datetime, limit: int) -> list[Invitation]:
        return await self._rows(
            Invitation,
            f"SELECT {_INVITATION} FROM invitations WHERE state = 'scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            (to_ms(now), limit),
        )

    async def due_reminders(self, now: datetime, limit: int) -> list[Invitation]:
        return await self._rows(
            Invitation,
            f"SELECT {_INVITATION} FROM invitations "
            "WHERE state = 'sent' AND reminder_at IS NOT NULL AND reminder_at <= ? "
            "ORDER BY reminder_at LIMIT ?",
            (to_ms(now), limit),
        )

    async def invitation_sent(
        self, invitation_id: int, sent_at: datetime, reminder_at: datetime | None
    ) -> None:
        await self._write_one(
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
        await self._write_one(
            "UPDATE invitations SET reminder_at = NULL, reminded_at = ? WHERE id = ?",
            (to_ms(at), invitation_id),
        )

    async def skip_invitation(self, invitation_id: int, reason: str) -> None:
        await self._write_one(
            "UPDATE invitations SET state = 'skipped', reason = ?, reminder_at = NULL "
            "WHERE id = ? AND state IN ('scheduled', 'sent')",
            (reason, invitation_id),
        )

    async def move_invitation(self, invitation_id: int, when: datetime, *, reminder: bool) -> None:
        """Push a due survey (or its reminder) to `when`, e.g. the next send window."""
        column = "reminder_at" if reminder else "due_at"
        await self._write_one(
            f"UPDATE invitations SET {column} = ? WHERE id = ?", (to_ms(when), invitation_id)
        )

    async def invitation(self, invitation_id: int) -> Invitation | None:
        return await self._row(
            Invitation, f"SELECT {_INVITATION} FROM invitations WHERE id = ?", (invitation_id,)
        )

    async def invitations(self, invitation_ids: Iterable[int]) -> dict[int, Invitation]:
        """Many by id in one query (the sender renders a claimed batch of surveys)."""
        wanted = sorted(set(invitation_ids))
        if not wanted:
            return {}
        marks = ", ".join("?" * len(wanted))
        rows = await self._read(
            f"SELECT {_INVITATION} FROM invitations WHERE id IN ({marks})", wanted
        )
        return {int(r[0]): read(Invitation, r) for r in rows}

    async def open_invitation(
        self, customer_id: int, survey: str, now: datetime
    ) -> Invitation | None:
        """The customer's latest unexpired invitation to this survey, if any."""
        return await self._row(
            Invitation,
            f"SELECT {_INVITATION} FROM invitations WHERE customer_id = ? AND survey = ? "
            "AND state IN ('scheduled', 'sent', 'answered') AND expires_at > ? "
            "ORDER BY due_at DESC LIMIT 1",
            (customer_id, survey, to_ms(now)),
        )

    async def invitation_by_public_id(self, public_id: str) -> Invitation | None:
        return await self._row(
            Invitation, f"SELECT {_INVITATION} FROM invitations WHERE public_id = ?", (public_id,)
        )


def _ms(value: datetime | None) -> int | None:
    return to_ms(value) if value is not None else None
