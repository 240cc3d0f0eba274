"""Invitations: the engine's plans for each event, then each invitation's sending and reminder."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries, Script, each, run
from daemon.store.rows import Invitation, Job, NewInvitation, StoredEvent, as_time

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
    async def invitation_jobs(self, invitation_ids: Iterable[int]) -> dict[int, Job]:
        """What each invitation's event says of the job (title, product, amount), by id."""

    async def event_job(self, event_id: str) -> Job | None:
        """What an event says of the job (a referral ask's moment); None: no such event."""

    async def open_invitation(
        self, customer_id: int, survey: str, now: datetime
    ) -> Invitation | None: ...
    async def invitation_by_public_id(self, public_id: str) -> Invitation | None: ...


class InvitationsQueries(Queries):
    """Both halves' calls but settling events (see each half)."""

    #: an event's data in its stored JSON: SQLite's json_extract on text, jsonb's -> on PostgreSQL
    _EVENT_DATA: str

    async def unprocessed_events(self, limit: int) -> list[StoredEvent]:
        rows = await self._fetch(
            f"SELECT seq, id, type, occurred_at, customer_id, {self._EVENT_DATA} "
            "FROM events WHERE processed_at IS NULL ORDER BY seq LIMIT ?",
            limit,
        )
        return [
            StoredEvent(r[0], r[1], r[2], as_time(r[3]), r[4], json.loads(r[5] or "{}"))
            for r in rows
        ]

    async def last_surveyed(self, customer_ids: Sequence[int]) -> dict[int, datetime]:
        """The latest survey due or sent to each customer, by any survey, or answer they gave
        (for the throttle: an answer by webhook, with no survey of ours, counts as surveyed)."""
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        among, params = self._in(ids)
        rows = await self._fetch(
            "SELECT customer_id, max(at) FROM ("
            "  SELECT customer_id, coalesce(sent_at, due_at) AS at FROM invitations"
            f"  WHERE customer_id {among} AND state != 'skipped'"
            "  UNION ALL"
            f"  SELECT customer_id, answered_at FROM responses WHERE customer_id {among}"
            ") AS surveyed GROUP BY customer_id",
            *params,
            *params,
        )
        return {int(r[0]): as_time(r[1]) for r in rows if r[1] is not None}

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
        adds nothing. Returns the new invitation ids, event by event. One script: on SQLite
        one trip (a hot transaction: the scheduler's sweep).
        """
        return await self._script(self._settling(decided, now))

    def _settling(
        self, decided: Sequence[tuple[int, int | None, Sequence[NewInvitation]]], now: datetime
    ) -> Script[list[list[int]]]:
        seqs = [seq for seq, _, _ in decided]
        among, params = self._in(seqs)
        claimed = yield run(
            f"UPDATE events SET processed_at = ? WHERE seq {among} AND processed_at IS NULL "
            "RETURNING seq, id",
            now,
            *params,
        )
        event_ids = {int(r[0]): str(r[1]) for r in claimed}
        yield each(_PLANNED, _planned(decided, event_ids, now))
        among, params = self._in(sorted(set(event_ids.values())))
        found = yield run(
            f"SELECT event_id, id FROM invitations WHERE event_id {among} ORDER BY id", *params
        )
        by_event: dict[str, list[int]] = {}
        for event_id, invitation_id in found:
            by_event.setdefault(str(event_id), []).append(int(invitation_id))
        return [by_event.get(event_ids.get(seq, ""), []) for seq in seqs]

    async def due_invitations(self, now: datetime, limit: int) -> list[Invitation]:
        return await self._list(
            Invitation,
            f"SELECT {_INVITATION} FROM invitations WHERE state = 'scheduled' AND due_at <= ? "
            "ORDER BY due_at LIMIT ?",
            now,
            limit,
        )

    async def due_reminders(self, now: datetime, limit: int) -> list[Invitation]:
        return await self._list(
            Invitation,
            f"SELECT {_INVITATION} FROM invitations "
            "WHERE state = 'sent' AND reminder_at IS NOT NULL AND reminder_at <= ? "
            "ORDER BY reminder_at LIMIT ?",
            now,
            limit,
        )

    async def invitation_sent(
        self, invitation_id: int, sent_at: datetime, reminder_at: datetime | None
    ) -> None:
        await self.invitations_sent([(invitation_id, sent_at, reminder_at)])

    async def invitations_sent(self, sent: Sequence[tuple[int, datetime, datetime | None]]) -> None:
        """Mark many invitations sent at once: (id, sent_at, reminder_at)."""
        await self._write_many(
            [
                (
                    "UPDATE invitations SET state = 'sent', sent_at = ?, reminder_at = ? "
                    "WHERE id = ? AND state = 'scheduled'",
                    [(at, later, invitation_id) for invitation_id, at, later in sent],
                )
            ]
        )

    async def invitations_reminded(self, ids: Sequence[int], at: datetime) -> None:
        await self._write_many(
            [
                (
                    "UPDATE invitations SET reminder_at = NULL, reminded_at = ? WHERE id = ?",
                    [(at, invitation_id) for invitation_id in ids],
                )
            ]
        )

    async def invitation_reminded(self, invitation_id: int, at: datetime) -> None:
        await self.invitations_reminded([invitation_id], at)

    async def skip_invitation(self, invitation_id: int, reason: str) -> None:
        await self._apply(
            "UPDATE invitations SET state = 'skipped', reason = ?, reminder_at = NULL "
            "WHERE id = ? AND state IN ('scheduled', 'sent')",
            reason,
            invitation_id,
        )

    async def move_invitation(self, invitation_id: int, when: datetime, *, reminder: bool) -> None:
        """Push a due survey (or its reminder) to `when`, e.g. the next send window."""
        column = "reminder_at" if reminder else "due_at"
        await self._apply(f"UPDATE invitations SET {column} = ? WHERE id = ?", when, invitation_id)

    async def invitation(self, invitation_id: int) -> Invitation | None:
        return await self._one(
            Invitation, f"SELECT {_INVITATION} FROM invitations WHERE id = ?", invitation_id
        )

    async def invitations(self, invitation_ids: Iterable[int]) -> dict[int, Invitation]:
        """Many by id in one query (the sender renders a claimed batch of surveys)."""
        wanted = sorted(set(invitation_ids))
        if not wanted:
            return {}
        among, params = self._in(wanted)
        found = await self._list(
            Invitation, f"SELECT {_INVITATION} FROM invitations WHERE id {among}", *params
        )
        return {i.id: i for i in found}

    async def invitation_jobs(self, invitation_ids: Iterable[int]) -> dict[int, Job]:
        wanted = sorted(set(invitation_ids))
        if not wanted:
            return {}
        among, params = self._in(wanted)
        rows = await self._fetch(
            f"SELECT i.id, {self._job_columns()} "
            f"FROM invitations i JOIN events e ON e.id = i.event_id WHERE i.id {among}",
            *params,
        )
        return {int(r[0]): Job.of(r[1], r[2], r[3]) for r in rows}

    async def event_job(self, event_id: str) -> Job | None:
        rows = await self._fetch(
            f"SELECT {self._job_columns()} FROM events e WHERE e.id = ?", event_id
        )
        return Job.of(*rows[0]) if rows else None

    def _job_columns(self) -> str:
        """An event's (`e`) job title (`title`, or `job_title` as imports name it), product
        and amount."""
        text = self._json_text
        return (
            f"coalesce({text('e.payload', 'data.title')}, {text('e.payload', 'data.job_title')}), "
            f"{text('e.payload', 'data.product')}, {text('e.payload', 'data.amount')}"
        )

    async def open_invitation(
        self, customer_id: int, survey: str, now: datetime
    ) -> Invitation | None:
        """The customer's latest unexpired invitation to this survey, if any."""
        return await self._one(
            Invitation,
            f"SELECT {_INVITATION} FROM invitations WHERE customer_id = ? AND survey = ? "
            "AND state IN ('scheduled', 'sent', 'answered') AND expires_at > ? "
            "ORDER BY due_at DESC LIMIT 1",
            customer_id,
            survey,
            now,
        )

    async def invitation_by_public_id(self, public_id: str) -> Invitation | None:
        return await self._one(
            Invitation, f"SELECT {_INVITATION} FROM invitations WHERE public_id = ?", public_id
        )


class InvitationsSQL(InvitationsQueries, DB):
    _EVENT_DATA = "json_extract(payload, '$.data')"


class InvitationsPG(InvitationsQueries, PGDB):
    """Invitations on PostgreSQL: the same calls."""

    _EVENT_DATA = "payload -> 'data'"


# the invitations an event's plans make; a pair (event, survey) planned before adds nothing
_PLANNED = """
    INSERT INTO invitations (public_id, customer_id, survey, event_id, state,
                             reason, due_at, expires_at, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (event_id, survey) DO NOTHING
"""
_FOUND = "SELECT event_id, id FROM invitations WHERE event_id {among} ORDER BY id"


def _planned(
    decided: Sequence[tuple[int, int | None, Sequence[NewInvitation]]],
    event_ids: dict[int, str],
    now: datetime,
) -> list[tuple[object, ...]]:
    """_PLANNED's parameters: the plans of the events this sweep claimed."""
    return [
        (
            secrets.token_hex(16),
            customer_id,
            plan.survey,
            event_ids[seq],
            "skipped" if plan.reason else "scheduled",
            plan.reason,
            plan.due_at,
            plan.expires_at,
            now,
        )
        for seq, customer_id, plans in decided
        if seq in event_ids and customer_id is not None
        for plan in plans
    ]
