"""Replies to our emails and the testimonials found in them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB


class Replies(Protocol):
    """Replies and testimonials: what came back to an email the daemon sent."""

    async def add_testimonial(
        self,
        customer_id: int,
        text: str,
        source: str,
        solicited: bool,
        origin: str,
        at: datetime,
    ) -> int | None: ...
    async def sent_email(self, message_id: str) -> tuple[int, int | None, str, str] | None: ...
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
    ) -> int | None: ...
    async def has_history(self, email: str) -> bool: ...


class RepliesSQL(DB):
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
