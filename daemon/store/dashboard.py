"""What the owner's dashboard reads (and the one thing only it changes: re-queuing a failed
email; its sessions are daemon/store/users.py's).

Each list is bounded: the dashboard shows the latest and the open, never the whole table."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import (
    PERSON,
    FailedEmail,
    OpenComplaint,
    Person,
    PipelineReferral,
    ResponseLine,
    SkippedAsk,
    StoredEmail,
    TimelineEntry,
    as_time,
    read,
)

#: A referral as the pipeline shows it (rows.PipelineReferral), and the latest change first.
_PIPELINE_COLUMNS = f"""
    r.public_id, r.status, r.grade, r.friend_name, r.friend_email, r.friend_phone, r.need,
    r.timing, r.flag, r.value, {PERSON}, r.updated_at, r.attribution, r.attribution_value"""
_PIPELINE_FROM = """
    FROM referrals r JOIN advocates a ON a.id = r.advocate_id
    JOIN customers c ON c.id = a.customer_id"""
_LATEST = "r.updated_at DESC, r.id DESC"


class Dashboard(Protocol):
    """The owner's dashboard: the lists its pages show."""

    async def open_complaint_count(self) -> int: ...
    async def open_complaint_list(self, limit: int, offset: int = 0) -> list[OpenComplaint]: ...
    async def latest_responses(self, limit: int) -> list[ResponseLine]: ...
    async def referral_pipeline(
        self, per_status: int
    ) -> tuple[dict[str, int], list[PipelineReferral]]: ...
    async def referrals_in_status(
        self, status: str, limit: int, offset: int
    ) -> tuple[int, list[PipelineReferral]]:
        """How many referrals are `status`, and one page of them, latest change first."""

    async def failed_emails(self, limit: int) -> list[FailedEmail]: ...
    async def retry_email(self, row_id: int, now: datetime) -> bool: ...
    async def skipped_asks(self, limit: int) -> list[SkippedAsk]: ...
    async def find_customers(self, text: str, limit: int) -> list[Person]: ...
    async def stored_email(self, row_id: int) -> StoredEmail | None: ...
    async def customer_timeline(
        self, customer_id: int, limit: int = 200
    ) -> list[TimelineEntry]: ...


class DashboardQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def open_complaint_count(self) -> int:
        """How many complaints are open: the whole count, not the length of a shown list."""
        rows = await self._fetch("SELECT count(*) FROM complaints WHERE state = 'open'")
        return int(rows[0][0])

    async def open_complaint_list(self, limit: int, offset: int = 0) -> list[OpenComplaint]:
        """Open complaints, latest first (ties by id, so pages neither repeat nor skip one)."""
        return await self._list(
            OpenComplaint,
            f"""
            SELECT k.id, k.opened_at, {PERSON}, r.survey, r.score, r.comment
            FROM complaints k JOIN responses r ON r.id = k.response_id
            JOIN customers c ON c.id = k.customer_id
            WHERE k.state = 'open' ORDER BY k.opened_at DESC, k.id DESC LIMIT ? OFFSET ?
            """,
            limit,
            offset,
        )

    async def latest_responses(self, limit: int) -> list[ResponseLine]:
        return await self._list(
            ResponseLine,
            f"""
            SELECT r.answered_at, {PERSON}, r.survey, r.score, r.segment, r.comment, r.source
            FROM responses r JOIN customers c ON c.id = r.customer_id
            ORDER BY r.answered_at DESC, r.id DESC LIMIT ?
            """,
            limit,
        )

    async def referral_pipeline(
        self, per_status: int
    ) -> tuple[dict[str, int], list[PipelineReferral]]:
        """Referrals by status: how many in each, and the latest `per_status` of each."""
        counts = await self._fetch("SELECT status, count(*) FROM referrals GROUP BY status")
        rows = await self._fetch(
            f"""
            SELECT * FROM (
                SELECT {_PIPELINE_COLUMNS},
                       row_number() OVER (PARTITION BY r.status ORDER BY {_LATEST}) AS n
                {_PIPELINE_FROM}
            ) AS latest WHERE n <= ? ORDER BY updated_at DESC
            """,
            per_status,
        )
        return {str(r[0]): int(r[1]) for r in counts}, [read(PipelineReferral, r) for r in rows]

    async def referrals_in_status(
        self, status: str, limit: int, offset: int
    ) -> tuple[int, list[PipelineReferral]]:
        """Ties by id, so pages neither repeat nor skip one."""
        async with self._snapshot() as tx:
            total = await tx.fetchval("SELECT count(*) FROM referrals WHERE status = ?", status)
            rows = await tx.fetch(
                f"SELECT {_PIPELINE_COLUMNS} {_PIPELINE_FROM} WHERE r.status = ? "
                f"ORDER BY {_LATEST} LIMIT ? OFFSET ?",
                status,
                limit,
                offset,
            )
        return int(total), [read(PipelineReferral, r) for r in rows]

    async def failed_emails(self, limit: int) -> list[FailedEmail]:
        return await self._list(
            FailedEmail,
            f"""
            SELECT o.id, o.kind, o.recipient, o.attempts, o.last_error, o.updated_at, {PERSON}
            FROM outbox o LEFT JOIN customers c ON c.id = o.customer_id
            WHERE o.state = 'failed' ORDER BY o.updated_at DESC LIMIT ?
            """,
            limit,
        )

    async def retry_email(self, row_id: int, now: datetime) -> bool:
        """A failed row back to the queue, due now, with its attempts counted afresh (the owner
        fixed the cause). The same bytes go out: the row keeps its message and dedupe key."""
        retried = await self._apply(
            "UPDATE outbox SET state = 'queued', due_at = ?, attempts = 0, lease_owner = NULL, "
            "updated_at = ? WHERE id = ? AND state = 'failed'",
            now,
            now,
            row_id,
        )
        return retried == 1

    async def skipped_asks(self, limit: int) -> list[SkippedAsk]:
        return await self._list(
            SkippedAsk,
            f"""
            SELECT a.created_at, {PERSON}, a.moment, a.reason
            FROM asks a JOIN customers c ON c.id = a.customer_id
            WHERE a.state = 'skipped' ORDER BY a.id DESC LIMIT ?
            """,
            limit,
        )

    async def find_customers(self, text: str, limit: int) -> list[Person]:
        """Customers whose address contains `text` (case-insensitive), exact matches first."""
        needle = text.strip().lower()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return await self._list(
            Person,
            f"SELECT {PERSON} FROM customers c WHERE c.email LIKE ? ESCAPE '\\' "
            "ORDER BY c.email != ?, c.email LIMIT ?",
            pattern,
            needle,
            limit,
        )

    async def stored_email(self, row_id: int) -> StoredEmail | None:
        return await self._one(
            StoredEmail,
            f"""
            SELECT o.id, o.kind, o.recipient, o.state, o.attempts, o.last_error, o.created_at,
                   o.sent_at, o.message, {PERSON}
            FROM outbox o LEFT JOIN customers c ON c.id = o.customer_id WHERE o.id = ?
            """,
            row_id,
        )

    async def customer_timeline(self, customer_id: int, limit: int = 200) -> list[TimelineEntry]:
        """Everything that happened with one customer, newest first, each kind capped at limit."""
        entries: list[TimelineEntry] = []
        for r in await self._fetch(
            "SELECT occurred_at, type, id FROM events WHERE customer_id = ? "
            "ORDER BY occurred_at DESC LIMIT ?",
            customer_id,
            limit,
        ):
            entries.append(TimelineEntry(as_time(r[0]), "event", f"event {r[1]}", f"id {r[2]}"))
        for r in await self._fetch(
            "SELECT created_at, survey, state, reason, due_at, sent_at FROM invitations "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            customer_id,
            limit,
        ):
            if r[2] == "skipped":
                text, detail = f"survey {r[1]} not sent", r[3]
            elif r[2] == "scheduled":
                text, detail = f"survey {r[1]} planned", f"due {as_time(r[4]):%Y-%m-%d %H:%M} UTC"
            else:
                text, detail = f"survey {r[1]} {r[2]}", None
            entries.append(TimelineEntry(as_time(r[5] or r[0]), "survey", text, detail))
        for r in await self._fetch(
            "SELECT id, created_at, kind, state, last_error, sent_at FROM outbox "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            customer_id,
            limit,
        ):
            entries.append(
                TimelineEntry(
                    as_time(r[5] or r[1]),
                    "email",
                    f"email {r[2]} {r[3]}",
                    r[4],
                    email_id=int(r[0]),
                )
            )
        for r in await self._fetch(
            "SELECT answered_at, survey, score, segment, comment, source FROM responses "
            "WHERE customer_id = ? ORDER BY answered_at DESC LIMIT ?",
            customer_id,
            limit,
        ):
            text = f"answered {r[2]} ({r[3]}) to {r[1]}, by {r[5]}"
            entries.append(TimelineEntry(as_time(r[0]), "response", text, r[4]))
        for r in await self._fetch(
            "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            customer_id,
            limit,
        ):
            is_open = r[1] == "open"
            entries.append(
                TimelineEntry(
                    as_time(r[2]),
                    "complaint",
                    f"complaint {r[0]} opened",
                    None,
                    complaint_id=int(r[0]) if is_open else None,
                )
            )
            if r[3] is not None:
                text = f"complaint {r[0]} resolved"
                item = f"complaint:{r[0]}"
                entries.append(TimelineEntry(as_time(r[3]), "complaint", text, r[4], item=item))
        for r in await self._fetch(
            "SELECT received_at, source, solicited, text FROM testimonials "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            customer_id,
            limit,
        ):
            asked = "asked for" if r[2] else "unsolicited"
            text = f"testimonial ({asked}, {r[1]})"
            entries.append(TimelineEntry(as_time(r[0]), "testimonial", text, r[3]))
        for r in await self._fetch(
            "SELECT created_at, moment, state, reason, sent_at FROM asks "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            customer_id,
            limit,
        ):
            text = f"referral ask at {r[1]}: {r[2]}"
            entries.append(TimelineEntry(as_time(r[4] or r[0]), "ask", text, r[3]))
        for r in await self._fetch(
            """
            SELECT r.created_at, r.public_id, r.friend_name, r.friend_email, r.grade, r.status,
                   r.value, r.updated_at
            FROM referrals r JOIN advocates a ON a.id = r.advocate_id
            WHERE a.customer_id = ? ORDER BY r.id DESC LIMIT ?
            """,
            customer_id,
            limit,
        ):
            friend = r[2] or r[3] or "a friend"
            text = f"introduced {friend} (grade {r[4]}, {r[1]})"
            entries.append(TimelineEntry(as_time(r[0]), "referral", text))
            if r[5] != "new":
                value = f", value {r[6]:g}" if r[6] is not None else ""
                text = f"referral {r[1]} of {friend} is {r[5]}{value}"
                item = f"referral:{r[1]}"
                entries.append(TimelineEntry(as_time(r[7]), "referral", text, item=item))
        for r in await self._fetch(
            f"""
            SELECT r.created_at, r.public_id, {PERSON}
            FROM referrals r JOIN advocates a ON a.id = r.advocate_id
            JOIN customers c ON c.id = a.customer_id
            WHERE r.friend_customer_id = ? ORDER BY r.id DESC LIMIT ?
            """,
            customer_id,
            limit,
        ):
            text = f"referred by {r[4] or r[3]} ({r[1]})"
            entries.append(TimelineEntry(as_time(r[0]), "referral", text))
        for r in await self._fetch(
            """
            SELECT w.created_at, w.issued_at, w.description, w.code, w.state
            FROM rewards w JOIN advocates a ON a.id = w.advocate_id
            WHERE a.customer_id = ? ORDER BY w.id DESC LIMIT ?
            """,
            customer_id,
            limit,
        ):
            text = f"reward {r[2]}: {r[4].replace('_', ' ')}"
            entries.append(TimelineEntry(as_time(r[1] or r[0]), "reward", text, r[3]))
        for r in await self._fetch(
            "SELECT received_at, verdict, explanation, text FROM replies "
            "WHERE customer_id = ? ORDER BY id DESC LIMIT ?",
            customer_id,
            limit,
        ):
            text = f"reply read as {r[1]}: {r[2]}"
            entries.append(TimelineEntry(as_time(r[0]), "reply", text, r[3]))
        entries.sort(key=lambda e: e.at, reverse=True)
        return entries


class DashboardSQL(DashboardQueries, DB):
    pass


class DashboardPG(DashboardQueries, PGDB):
    """The dashboard's lists on PostgreSQL: the same calls."""
