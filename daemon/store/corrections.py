"""The owner undoing a mistake: a referral marked won or lost by mistake, reopened.

Reopening puts the referral back where it stood before it closed and records that as a step
the advocate is not told of. A win's reward that has not been given yet (it waits for the
owner's approval or for a code) is withdrawn, its pool code freed, and the referral ask the
win scheduled is skipped; a reward already given cannot be taken back, so such a win stays, as does
a partner's win once their thank-you has gone (daemon/engine/reopen.py says so before anything
is written, and the UPDATE checks again).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB, numbered
from daemon.store.rows import read

NOTE = "reopened by the owner"
_UNGIVEN = "('awaiting_approval', 'awaiting_code')"
_FACTS = """
    SELECT r.closed_at,
           coalesce((SELECT s.status FROM referral_steps s WHERE s.referral_id = r.id
                     AND s.status NOT IN ('won', 'lost') ORDER BY s.at DESC, s.id DESC LIMIT 1),
                    'new'),
           (SELECT w.state FROM rewards w WHERE w.referral_id = r.id),
           EXISTS (SELECT 1 FROM referral_steps s WHERE {told})
    FROM referrals r WHERE r.id = :id
"""
# The advocate (a partner, thanked without a reward) has had the win's own email.
_TOLD = "s.referral_id = {r} AND s.status = 'won' AND s.shared AND s.notified"
_FACTS = _FACTS.format(told=_TOLD.format(r="r.id"))
_REOPEN = (
    """
    UPDATE referrals SET status = :to, closed_at = NULL, updated_at = :now
    WHERE id = :id AND status = :closed
      AND NOT EXISTS (SELECT 1 FROM rewards WHERE referral_id = :id AND state = 'issued')
      AND NOT EXISTS (SELECT 1 FROM referral_steps s WHERE {told})
    """.format(told=_TOLD.format(r=":id")),
    f"""
    UPDATE reward_codes SET reward_id = NULL WHERE reward_id IN
        (SELECT id FROM rewards WHERE referral_id = :id AND state IN {_UNGIVEN})
    """,
    f"DELETE FROM rewards WHERE referral_id = :id AND state IN {_UNGIVEN}",
    # a partner's win without a reward is a shared step: not sent once it is undone
    "UPDATE referral_steps SET notified = :yes, reported = :yes "
    "WHERE referral_id = :id AND status = 'won' AND notified = :no",
    "UPDATE asks SET state = 'skipped', reason = 'the win was reopened', due_at = NULL "
    "WHERE moment = 'referral_won' AND source = :source AND state IN ('scheduled', 'waiting')",
    "INSERT INTO referral_steps (referral_id, status, note, shared, notified, reported, at) "
    "VALUES (:id, :to, :note, :no, :yes, :yes, :now)",
)


@dataclass(frozen=True)
class ReopenFacts:
    """What decides whether a closed referral may be reopened, and where it goes back to."""

    closed_at: datetime | None
    before: str  # the status it had before it closed (new if it never moved before)
    reward_state: str | None
    told: bool  # the advocate has had the win's own email (a partner's thanks)


class Corrections(Protocol):
    async def reopen_facts(self, referral_id: int) -> ReopenFacts | None: ...

    async def reopen_referral(self, referral_id: int, closed: str, to: str, now: datetime) -> bool:
        """Move the referral from `closed` (won or lost) back to `to`, withdrawing a reward not
        yet given; False if it is no longer `closed` or its reward has been given meanwhile."""


def _params(referral_id: int, closed: str, to: str) -> dict[str, object]:
    return {
        "id": referral_id,
        "closed": closed,
        "to": to,
        "note": NOTE,
        "source": f"referral:{referral_id}",
    }


class CorrectionsSQL(DB):
    async def reopen_facts(self, referral_id: int) -> ReopenFacts | None:
        return await self._row(ReopenFacts, _FACTS, {"id": referral_id})

    async def reopen_referral(self, referral_id: int, closed: str, to: str, now: datetime) -> bool:
        params = _params(referral_id, closed, to) | {"now": to_ms(now), "yes": 1, "no": 0}
        async with self._write() as db:
            moved = await db.execute(_REOPEN[0], params)
            if moved.rowcount != 1:
                return False
            for sql in _REOPEN[1:]:
                await db.execute(sql, params)
        return True


class CorrectionsPG(PGDB):
    """Reopening on PostgreSQL: the same statements, in one transaction."""

    async def reopen_facts(self, referral_id: int) -> ReopenFacts | None:
        sql, values = numbered(_FACTS, {"id": referral_id})
        rows = await self._read(sql, *values)
        return read(ReopenFacts, rows[0]) if rows else None

    async def reopen_referral(self, referral_id: int, closed: str, to: str, now: datetime) -> bool:
        params = _params(referral_id, closed, to) | {"now": now, "yes": True, "no": False}
        async with self._write() as db:
            moved = await db.execute(*_pg(_REOPEN[0], params))
            if moved.split()[-1] != "1":
                return False
            for sql in _REOPEN[1:]:
                await db.execute(*_pg(sql, params))
        return True


def _pg(sql: str, params: dict[str, object]) -> list[object]:
    text, values = numbered(sql, params)
    return [text, *values]
