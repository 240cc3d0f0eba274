"""One customer's whole story, for the owner: what happened, and why Vouch did or did not act."""

from __future__ import annotations

from typing import Any

from daemon.clock import from_ms
from daemon.store.db import DB


def _when(ms: int | None) -> str | None:
    return from_ms(ms).isoformat() if ms is not None else None


class CustomersSQL(DB):
    async def customer_overview(self, customer_id: int) -> dict[str, Any]:
        c = {"c": customer_id}
        events = await self._read(
            "SELECT id, type, occurred_at FROM events WHERE customer_id = :c "
            "ORDER BY occurred_at DESC LIMIT 100",
            c,
        )
        invitations = await self._read(
            "SELECT survey, state, reason, due_at, sent_at, expires_at FROM invitations "
            "WHERE customer_id = :c ORDER BY id DESC LIMIT 100",
            c,
        )
        responses = await self._read(
            "SELECT survey, score, segment, comment, source, answered_at FROM responses "
            "WHERE customer_id = :c ORDER BY answered_at DESC LIMIT 100",
            c,
        )
        complaints = await self._read(
            "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
            "WHERE customer_id = :c ORDER BY id DESC",
            c,
        )
        asks = await self._read(
            "SELECT moment, state, reason, due_at, sent_at FROM asks WHERE customer_id = :c "
            "ORDER BY id DESC LIMIT 100",
            c,
        )
        referrals = await self._read(
            "SELECT r.public_id, r.friend_name, r.grade, r.status, r.value, r.flag, r.created_at "
            "FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
            "WHERE a.customer_id = :c ORDER BY r.id DESC",
            c,
        )
        replies = await self._read(
            "SELECT verdict, explanation, text, received_at FROM replies WHERE customer_id = :c "
            "ORDER BY id DESC LIMIT 50",
            c,
        )
        emails = await self._read(
            "SELECT kind, state, last_error, sent_at, created_at FROM outbox "
            "WHERE customer_id = :c ORDER BY id DESC LIMIT 100",
            c,
        )
        return {
            "events": [{"id": r[0], "type": r[1], "occurred_at": _when(r[2])} for r in events],
            "surveys": [
                {
                    "survey": r[0],
                    "state": r[1],
                    "reason": r[2],
                    "due_at": _when(r[3]),
                    "sent_at": _when(r[4]),
                    "expires_at": _when(r[5]),
                }
                for r in invitations
            ],
            "responses": [
                {
                    "survey": r[0],
                    "score": r[1],
                    "segment": r[2],
                    "comment": r[3],
                    "source": r[4],
                    "answered_at": _when(r[5]),
                }
                for r in responses
            ],
            "complaints": [
                {
                    "id": r[0],
                    "state": r[1],
                    "opened_at": _when(r[2]),
                    "resolved_at": _when(r[3]),
                    "resolution": r[4],
                }
                for r in complaints
            ],
            "asks": [
                {
                    "moment": r[0],
                    "state": r[1],
                    "reason": r[2],
                    "due_at": _when(r[3]),
                    "sent_at": _when(r[4]),
                }
                for r in asks
            ],
            "referrals": [
                {
                    "id": r[0],
                    "friend": r[1],
                    "grade": r[2],
                    "status": r[3],
                    "value": r[4],
                    "flag": r[5],
                    "created_at": _when(r[6]),
                }
                for r in referrals
            ],
            "replies": [
                {"verdict": r[0], "why": r[1], "text": r[2], "received_at": _when(r[3])}
                for r in replies
            ],
            "emails": [
                {
                    "kind": r[0],
                    "state": r[1],
                    "last_error": r[2],
                    "sent_at": _when(r[3]),
                    "queued_at": _when(r[4]),
                }
                for r in emails
            ],
        }
