"""Replies to our emails and the testimonials found in them."""

from __future__ import annotations

from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import NewReply, NewTestimonial


class Replies(Protocol):
    """Replies and testimonials: what came back to an email the daemon sent."""

    async def add_testimonial(self, new: NewTestimonial) -> int | None:
        """Keep a testimonial once (None: its origin was kept before)."""

    async def sent_email(self, message_id: str) -> tuple[int, int | None, str, str] | None:
        """(outbox id, customer id, kind, dedupe key) of an email Vouch sent, by Message-ID."""

    async def add_reply(self, reply: NewReply) -> int | None:
        """Store a reply (None: received before). A reply to a survey or reminder email
        (`invitation_id`) counts as an answer for reminders: none is sent after it."""

    async def has_history(self, email: str) -> bool: ...


class RepliesQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def add_testimonial(self, new: NewTestimonial) -> int | None:
        rows = await self._write_rows(
            "INSERT INTO testimonials (customer_id, text, source, solicited, origin, received_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (origin) DO NOTHING RETURNING id",
            new.customer_id,
            new.text,
            new.source,
            bool(new.solicited),
            new.origin,
            new.at,
        )
        return int(rows[0][0]) if rows else None

    async def sent_email(self, message_id: str) -> tuple[int, int | None, str, str] | None:
        rows = await self._fetch(
            "SELECT id, customer_id, kind, dedupe_key FROM outbox WHERE message_id = ?",
            message_id,
        )
        return (int(rows[0][0]), rows[0][1], str(rows[0][2]), str(rows[0][3])) if rows else None

    async def add_reply(self, reply: NewReply) -> int | None:
        async with self._tx() as tx:
            reply_id = await tx.fetchval(
                "INSERT INTO replies (customer_id, outbox_id, from_addr, subject, text, verdict, "
                "explanation, dedupe, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dedupe) DO NOTHING RETURNING id",
                reply.customer_id,
                reply.outbox_id,
                reply.from_addr,
                reply.subject,
                reply.text,
                reply.verdict,
                reply.explanation,
                reply.dedupe,
                reply.at,
            )
            if reply_id is not None and reply.invitation_id is not None:
                await tx.execute(
                    "UPDATE invitations SET replied_at = coalesce(replied_at, ?), "
                    "reminder_at = NULL WHERE id = ?",
                    reply.at,
                    reply.invitation_id,
                )
        return None if reply_id is None else int(reply_id)

    async def has_history(self, email: str) -> bool:
        """A customer in their own right (events recorded), not just a name someone gave us."""
        rows = await self._fetch(
            "SELECT 1 FROM customers c JOIN events e ON e.customer_id = c.id "
            "WHERE c.email = ? LIMIT 1",
            email.lower(),
        )
        return bool(rows)


class RepliesSQL(RepliesQueries, DB):
    pass


class RepliesPG(RepliesQueries, PGDB):
    """Replies and testimonials on PostgreSQL: the same calls."""
