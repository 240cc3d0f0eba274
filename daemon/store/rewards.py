"""Rewards for referrals that won, and the owner's codes they are paid with."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries, Tx
from daemon.store.rows import NewReward, Referral, Reward

_REWARD = "id, referral_id, advocate_id, description, code, state"


class Rewards(Protocol):
    """Rewards: created for a won referral, approved, coded from the owner's list, notified."""

    async def create_reward(self, referral: Referral, new: NewReward, now: datetime) -> Reward:
        """The reward for a won referral, made once: a second call returns the first."""

    async def load_reward_codes(self, codes: Sequence[str], now: datetime, state: str) -> int: ...
    async def approve_reward(self, referral_id: int, now: datetime) -> Reward | None: ...
    async def unnotified_rewards(self, limit: int) -> list[Reward]: ...
    async def reward_notified(self, reward_id: int) -> None: ...
    async def rewards_of(self, advocate_id: int) -> list[Reward]: ...
    async def reward_of_referral(self, referral_id: int) -> Reward | None: ...


class RewardsQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects; a pool code is taken with the
    layer's `_SKIP_LOCKED`, so two processes paying rewards at once never take the same one."""

    async def create_reward(self, referral: Referral, new: NewReward, now: datetime) -> Reward:
        kind = new.kind
        async with self._tx() as tx:
            code: str | None = None
            state = "awaiting_approval" if new.approval else "issued"
            if kind == "generated":
                code = new.code_prefix + secrets.token_hex(4).upper()
            made = await tx.fetchrow(
                "INSERT INTO rewards (referral_id, advocate_id, description, code, state, "
                "created_at, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"ON CONFLICT (referral_id) DO NOTHING RETURNING {_REWARD}",
                referral.id,
                referral.advocate_id,
                new.description,
                code,
                "awaiting_code" if kind == "pool" else state,
                now,
                None if new.approval or kind == "pool" else now,
            )
            if made is not None and kind == "pool":
                await self._assign_codes(tx, state, now)
            row = await tx.fetchrow(
                f"SELECT {_REWARD} FROM rewards WHERE referral_id = ?", referral.id
            )  # made now, or the first call's
        assert row is not None
        return Reward(*row)

    async def _assign_codes(self, tx: Tx, state: str, now: datetime) -> None:
        """Give pool codes to rewards waiting for one, oldest first; a code is used once."""
        waiting = await tx.fetch(
            f"SELECT id FROM rewards WHERE state = 'awaiting_code' ORDER BY id {self._SKIP_LOCKED}"
        )
        for (reward_id,) in waiting:
            taken = await tx.fetchval(
                "UPDATE reward_codes SET reward_id = ? WHERE code = (SELECT code FROM "
                "reward_codes WHERE reward_id IS NULL ORDER BY loaded_at, code LIMIT 1 "
                f"{self._SKIP_LOCKED}) RETURNING code",
                reward_id,
            )
            if taken is None:
                return
            await tx.execute(
                "UPDATE rewards SET code = ?, state = ?, issued_at = ? WHERE id = ?",
                taken,
                state,
                now if state == "issued" else None,
                reward_id,
            )

    async def load_reward_codes(self, codes: Sequence[str], now: datetime, state: str) -> int:
        """Add the owner's codes (one seen before adds nothing) and pay waiting rewards with
        them; how many were new."""
        added = 0
        async with self._tx() as tx:
            for code in codes:
                added += await tx.execute(
                    "INSERT INTO reward_codes (code, loaded_at) VALUES (?, ?) "
                    "ON CONFLICT (code) DO NOTHING",
                    code,
                    now,
                )
            await self._assign_codes(tx, state, now)
        return added

    async def approve_reward(self, referral_id: int, now: datetime) -> Reward | None:
        rows = await self._write_rows(
            f"UPDATE rewards SET state = 'issued', issued_at = ? WHERE referral_id = ? "
            f"AND state = 'awaiting_approval' RETURNING {_REWARD}",
            now,
            referral_id,
        )
        return Reward(*rows[0]) if rows else None

    async def unnotified_rewards(self, limit: int) -> list[Reward]:
        return await self._list(
            Reward,
            f"SELECT {_REWARD} FROM rewards WHERE {self._not('notified')} AND state = 'issued' "
            "ORDER BY id LIMIT ?",
            limit,
        )

    async def reward_notified(self, reward_id: int) -> None:
        await self._apply("UPDATE rewards SET notified = TRUE WHERE id = ?", reward_id)

    async def rewards_of(self, advocate_id: int) -> list[Reward]:
        return await self._list(
            Reward, f"SELECT {_REWARD} FROM rewards WHERE advocate_id = ? ORDER BY id", advocate_id
        )

    async def reward_of_referral(self, referral_id: int) -> Reward | None:
        """The reward a won referral earned (one at most), for its page in the dashboard."""
        return await self._one(
            Reward, f"SELECT {_REWARD} FROM rewards WHERE referral_id = ?", referral_id
        )


class RewardsSQL(RewardsQueries, DB):
    pass


class RewardsPG(RewardsQueries, PGDB):
    """Rewards on PostgreSQL: the same calls."""
