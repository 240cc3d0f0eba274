"""The friend offer's codes (one per advocate, made when first shown) and their redemptions
(a purchase that carried one, recorded once per event with what it credited)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.rows import read

#: Capitals and digits a person reads back without doubt (no 0/O, 1/I).
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LENGTH = 8  # 32^8: about 10^12 codes


@dataclass(frozen=True)
class Redemption:
    event_id: str
    advocate_id: int
    customer_id: int | None
    code: str
    referral_id: int | None
    outcome: str
    amount: float | None
    redeemed_at: datetime


_REDEMPTION = "event_id, advocate_id, customer_id, code, referral_id, outcome, amount, redeemed_at"


def new_code(prefix: str) -> str:
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


class FriendOffers(Protocol):
    async def friend_code(self, advocate_id: int, prefix: str, now: datetime) -> str:
        """The advocate's friend code: made once (with `prefix`) and kept."""

    async def friend_code_owner(self, code: str) -> int | None:
        """The advocate whose friend code this is, in any case; None for any other."""

    async def record_redemption(self, redemption: Redemption) -> bool:
        """Record it; False when this event's redemption was recorded before."""

    async def redemptions(self, advocate_id: int | None = None) -> list[Redemption]: ...


class FriendOffersSQL(DB):
    async def friend_code(self, advocate_id: int, prefix: str, now: datetime) -> str:
        for _ in range(5):  # a clash with another advocate's code: another draw
            async with self._write() as db:
                await db.execute(
                    "INSERT INTO friend_codes (advocate_id, code, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    (advocate_id, new_code(prefix), to_ms(now)),
                )
                cursor = await db.execute(
                    "SELECT code FROM friend_codes WHERE advocate_id = ?", (advocate_id,)
                )
                row = await cursor.fetchone()
            if row is not None:
                return str(row[0])
        raise RuntimeError("no free friend code after 5 draws")

    async def friend_code_owner(self, code: str) -> int | None:
        rows = await self._read(
            "SELECT advocate_id FROM friend_codes WHERE code = ?", (code.strip().upper(),)
        )
        return int(rows[0][0]) if rows else None

    async def record_redemption(self, redemption: Redemption) -> bool:
        r = redemption
        added = await self._insert(
            f"INSERT INTO friend_redemptions ({_REDEMPTION}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING id",
            (
                r.event_id,
                r.advocate_id,
                r.customer_id,
                r.code,
                r.referral_id,
                r.outcome,
                r.amount,
                to_ms(r.redeemed_at),
            ),
        )
        return added is not None

    async def redemptions(self, advocate_id: int | None = None) -> list[Redemption]:
        return await self._rows(
            Redemption,
            f"SELECT {_REDEMPTION} FROM friend_redemptions "
            "WHERE ? IS NULL OR advocate_id = ? ORDER BY redeemed_at, id",
            (advocate_id, advocate_id),
        )


class FriendOffersPG(PGDB):
    """Friend codes and redemptions on PostgreSQL: the same calls, in its dialect."""

    async def friend_code(self, advocate_id: int, prefix: str, now: datetime) -> str:
        for _ in range(5):
            async with self._write() as db:
                await db.execute(
                    "INSERT INTO friend_codes (advocate_id, code, created_at) "
                    "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    advocate_id,
                    new_code(prefix),
                    now,
                )
                code = await db.fetchval(
                    "SELECT code FROM friend_codes WHERE advocate_id = $1", advocate_id
                )
            if code is not None:
                return str(code)
        raise RuntimeError("no free friend code after 5 draws")

    async def friend_code_owner(self, code: str) -> int | None:
        rows = await self._read(
            "SELECT advocate_id FROM friend_codes WHERE code = $1", code.strip().upper()
        )
        return int(rows[0][0]) if rows else None

    async def record_redemption(self, redemption: Redemption) -> bool:
        r = redemption
        async with self._write() as db:
            added = await db.fetchval(
                f"INSERT INTO friend_redemptions ({_REDEMPTION}) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                "ON CONFLICT (event_id) DO NOTHING RETURNING id",
                r.event_id,
                r.advocate_id,
                r.customer_id,
                r.code,
                r.referral_id,
                r.outcome,
                r.amount,
                r.redeemed_at,
            )
        return added is not None

    async def redemptions(self, advocate_id: int | None = None) -> list[Redemption]:
        rows = await self._read(
            f"SELECT {_REDEMPTION} FROM friend_redemptions "
            "WHERE $1::bigint IS NULL OR advocate_id = $1 ORDER BY redeemed_at, id",
            advocate_id,
        )
        return [read(Redemption, r) for r in rows]
