"""The friend offer's codes (one per advocate, made when first shown) and their redemptions
(a purchase that carried one, recorded once per event with what it credited)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries

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


class FriendOffersQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def friend_code(self, advocate_id: int, prefix: str, now: datetime) -> str:
        for _ in range(5):  # a clash with another advocate's code: another draw
            async with self._tx() as tx:
                await tx.execute(
                    "INSERT INTO friend_codes (advocate_id, code, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT DO NOTHING",
                    advocate_id,
                    new_code(prefix),
                    now,
                )
                code = await tx.fetchval(
                    "SELECT code FROM friend_codes WHERE advocate_id = ?", advocate_id
                )
            if code is not None:
                return str(code)
        raise RuntimeError("no free friend code after 5 draws")

    async def friend_code_owner(self, code: str) -> int | None:
        found = await self._value(
            "SELECT advocate_id FROM friend_codes WHERE code = ?", code.strip().upper()
        )
        return int(found) if found is not None else None

    async def record_redemption(self, redemption: Redemption) -> bool:
        r = redemption
        added = await self._write_rows(
            f"INSERT INTO friend_redemptions ({_REDEMPTION}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (event_id) DO NOTHING RETURNING id",
            r.event_id, r.advocate_id, r.customer_id, r.code, r.referral_id, r.outcome,
            r.amount, r.redeemed_at,
        )  # fmt: skip
        return bool(added)

    async def redemptions(self, advocate_id: int | None = None) -> list[Redemption]:
        select = f"SELECT {_REDEMPTION} FROM friend_redemptions"
        order = "ORDER BY redeemed_at, id"
        if advocate_id is None:
            return await self._list(Redemption, f"{select} {order}")
        return await self._list(Redemption, f"{select} WHERE advocate_id = ? {order}", advocate_id)


class FriendOffersSQL(FriendOffersQueries, DB):
    pass


class FriendOffersPG(FriendOffersQueries, PGDB):
    pass
