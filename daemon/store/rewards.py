"""Rewards for referrals that won, and the owner's codes they are paid with."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
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


class RewardsSQL(DB):
    async def create_reward(self, referral: Referral, new: NewReward, now: datetime) -> Reward:
        kind = new.kind
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"SELECT {_REWARD} FROM rewards WHERE referral_id = ?", (referral.id,)
            )
            if rows:
                return Reward(*next(iter(rows)))
            code: str | None = None
            state = "awaiting_approval" if new.approval else "issued"
            if kind == "generated":
                code = new.code_prefix + secrets.token_hex(4).upper()
            cursor = await db.execute(
                f"INSERT INTO rewards (referral_id, advocate_id, description, code, state, "
                f"created_at, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_REWARD}",
                (
                    referral.id,
                    referral.advocate_id,
                    new.description,
                    code,
                    "awaiting_code" if kind == "pool" else state,
                    to_ms(now),
                    None if new.approval or kind == "pool" else to_ms(now),
                ),
            )
            row = await cursor.fetchone()
            assert row is not None
            reward = Reward(*row)
            if kind == "pool":
                await self._assign_codes(db, state, now)
                rows = await db.execute_fetchall(
                    f"SELECT {_REWARD} FROM rewards WHERE id = ?", (reward.id,)
                )
                reward = Reward(*next(iter(rows)))
        return reward

    async def _assign_codes(self, db: Any, state: str, now: datetime) -> None:
        """Give pool codes to rewards waiting for one, oldest first; a code is used once."""
        waiting = await db.execute_fetchall(
            "SELECT id FROM rewards WHERE state = 'awaiting_code' ORDER BY id"
        )
        for (reward_id,) in waiting:
            cursor = await db.execute(
                "UPDATE reward_codes SET reward_id = ? WHERE code = (SELECT code FROM "
                "reward_codes WHERE reward_id IS NULL ORDER BY loaded_at, code LIMIT 1) "
                "RETURNING code",
                (reward_id,),
            )
            taken = await cursor.fetchone()
            if taken is None:
                return
            issued = to_ms(now) if state == "issued" else None
            await db.execute(
                "UPDATE rewards SET code = ?, state = ?, issued_at = ? WHERE id = ?",
                (taken[0], state, issued, reward_id),
            )

    async def load_reward_codes(self, codes: Sequence[str], now: datetime, state: str) -> int:
        async with self._write() as db:
            before = db.total_changes
            await db.executemany(
                "INSERT INTO reward_codes (code, loaded_at) VALUES (?, ?) "
                "ON CONFLICT (code) DO NOTHING",
                [(code, to_ms(now)) for code in codes],
            )
            added = db.total_changes - before
            await self._assign_codes(db, state, now)
        return int(added)

    async def approve_reward(self, referral_id: int, now: datetime) -> Reward | None:
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"UPDATE rewards SET state = 'issued', issued_at = ? WHERE referral_id = ? "
                f"AND state = 'awaiting_approval' RETURNING {_REWARD}",
                (to_ms(now), referral_id),
            )
        found = list(rows)
        return Reward(*found[0]) if found else None

    async def unnotified_rewards(self, limit: int) -> list[Reward]:
        return await self._rows(
            Reward,
            f"SELECT {_REWARD} FROM rewards WHERE notified = 0 AND state = 'issued' "
            "ORDER BY id LIMIT ?",
            (limit,),
        )

    async def reward_notified(self, reward_id: int) -> None:
        await self._write_one("UPDATE rewards SET notified = 1 WHERE id = ?", (reward_id,))

    async def rewards_of(self, advocate_id: int) -> list[Reward]:
        return await self._rows(
            Reward,
            f"SELECT {_REWARD} FROM rewards WHERE advocate_id = ? ORDER BY id",
            (advocate_id,),
        )

    async def reward_of_referral(self, referral_id: int) -> Reward | None:
        """The reward a won referral earned (one at most), for its page in the dashboard."""
        found = await self._rows(
            Reward, f"SELECT {_REWARD} FROM rewards WHERE referral_id = ?", (referral_id,)
        )
        return found[0] if found else None
