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

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries

NOTE = "reopened by the owner"
_UNGIVEN = "('awaiting_approval', 'awaiting_code')"
# The advocate (a partner, thanked without a reward) has had the win's own email.
_TOLD = "s.referral_id = {r} AND s.status = 'won' AND s.shared AND s.notified"
_FACTS = f"""
    SELECT r.closed_at,
           coalesce((SELECT s.status FROM referral_steps s WHERE s.referral_id = r.id
                     AND s.status NOT IN ('won', 'lost') ORDER BY s.at DESC, s.id DESC LIMIT 1),
                    'new'),
           (SELECT w.state FROM rewards w WHERE w.referral_id = r.id),
           EXISTS (SELECT 1 FROM referral_steps s WHERE {_TOLD.format(r="r.id")})
    FROM referrals r WHERE r.id = ?
"""
_MOVE_BACK = f"""
    UPDATE referrals SET status = ?, closed_at = NULL, updated_at = ?
    WHERE id = ? AND status = ?
      AND NOT EXISTS (SELECT 1 FROM rewards WHERE referral_id = ? AND state = 'issued')
      AND NOT EXISTS (SELECT 1 FROM referral_steps s WHERE {_TOLD.format(r="?")})
"""


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


class CorrectionsQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects, in one transaction."""

    async def reopen_facts(self, referral_id: int) -> ReopenFacts | None:
        return await self._one(ReopenFacts, _FACTS, referral_id)

    async def reopen_referral(self, referral_id: int, closed: str, to: str, now: datetime) -> bool:
        r = referral_id
        async with self._tx() as tx:
            if await tx.execute(_MOVE_BACK, to, now, r, closed, r, r) != 1:
                return False
            await tx.execute(
                "UPDATE reward_codes SET reward_id = NULL WHERE reward_id IN (SELECT id FROM "
                f"rewards WHERE referral_id = ? AND state IN {_UNGIVEN})",
                r,
            )
            await tx.execute(
                f"DELETE FROM rewards WHERE referral_id = ? AND state IN {_UNGIVEN}", r
            )
            # a partner's win without a reward is a shared step: not sent once it is undone
            await tx.execute(
                "UPDATE referral_steps SET notified = ?, reported = ? "
                "WHERE referral_id = ? AND status = 'won' AND notified = ?",
                True, True, r, False,
            )  # fmt: skip
            await tx.execute(
                "UPDATE asks SET state = 'skipped', reason = 'the win was reopened', "
                "due_at = NULL WHERE moment = 'referral_won' AND source = ? "
                "AND state IN ('scheduled', 'waiting')",
                f"referral:{r}",
            )
            await tx.execute(
                "INSERT INTO referral_steps (referral_id, status, note, shared, notified, "
                "reported, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                r, to, NOTE, False, True, True, now,
            )  # fmt: skip
        return True


class CorrectionsSQL(CorrectionsQueries, DB):
    pass


class CorrectionsPG(CorrectionsQueries, PGDB):
    pass
