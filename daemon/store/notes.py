"""The owner's private notes on a customer or a referral: who wrote what, and when.

Never shown to a customer or an advocate (a referral's note for the advocate is its step's
note, daemon/store/referrals.py). A note names a person, so `forget_notes` erases every note
on that person and on the referrals they are in, before the person is forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.rows import Holder, read

_NOTE = "id, at, by, text"
# The referrals a customer is in: as the advocate, or as the friend introduced.
_THEIR_REFERRALS = (
    "SELECT r.id FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
    "WHERE a.customer_id = {c} OR r.friend_customer_id = {c}"
)


@dataclass(frozen=True)
class Note:
    id: int
    at: datetime
    by: str
    text: str


class OwnerNotes(Protocol):
    """Private notes, on a customer (by row id) or a referral (by row id), newest first."""

    async def add_note(
        self,
        holder: Holder,
        text: str,
        now: datetime,
        *,
        customer_id: int | None = None,
        referral_id: int | None = None,
    ) -> int:
        """Keep the note on exactly one of the two; returns its id."""

    async def notes_on_customer(self, customer_id: int) -> list[Note]: ...
    async def notes_on_referral(self, referral_id: int) -> list[Note]: ...

    async def forget_notes(self, customer_id: int) -> int:
        """Erase the notes on the customer and on every referral they are in; how many."""


def _one_of(customer_id: int | None, referral_id: int | None) -> None:
    if (customer_id is None) == (referral_id is None):
        raise ValueError("a note is on a customer or on a referral, exactly one")


class NotesSQL(DB):
    async def add_note(
        self,
        holder: Holder,
        text: str,
        now: datetime,
        *,
        customer_id: int | None = None,
        referral_id: int | None = None,
    ) -> int:
        _one_of(customer_id, referral_id)
        made = await self._insert(
            "INSERT INTO owner_notes (customer_id, referral_id, at, user_id, by, text) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            (customer_id, referral_id, to_ms(now), holder.user_id, holder.name, text),
        )
        assert made is not None
        return made

    async def notes_on_customer(self, customer_id: int) -> list[Note]:
        return await self._rows(
            Note,
            f"SELECT {_NOTE} FROM owner_notes WHERE customer_id = ? ORDER BY at DESC, id DESC",
            (customer_id,),
        )

    async def notes_on_referral(self, referral_id: int) -> list[Note]:
        return await self._rows(
            Note,
            f"SELECT {_NOTE} FROM owner_notes WHERE referral_id = ? ORDER BY at DESC, id DESC",
            (referral_id,),
        )

    async def forget_notes(self, customer_id: int) -> int:
        async with self._write() as db:
            await db.execute("PRAGMA secure_delete = ON")  # as `forget` does: no old copies
            before = db.total_changes
            await db.execute(
                "DELETE FROM owner_notes WHERE customer_id = :c OR referral_id IN ("
                + _THEIR_REFERRALS.format(c=":c")
                + ")",
                {"c": customer_id},
            )
            return int(db.total_changes - before)


class NotesPG(PGDB):
    """Private notes on PostgreSQL: the same calls."""

    async def add_note(
        self,
        holder: Holder,
        text: str,
        now: datetime,
        *,
        customer_id: int | None = None,
        referral_id: int | None = None,
    ) -> int:
        _one_of(customer_id, referral_id)
        async with self._write() as db:
            return int(
                await db.fetchval(
                    "INSERT INTO owner_notes (customer_id, referral_id, at, user_id, by, text) "
                    "VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    customer_id,
                    referral_id,
                    now,
                    holder.user_id,
                    holder.name,
                    text,
                )
            )

    async def notes_on_customer(self, customer_id: int) -> list[Note]:
        rows = await self._read(
            f"SELECT {_NOTE} FROM owner_notes WHERE customer_id = $1 ORDER BY at DESC, id DESC",
            customer_id,
        )
        return [read(Note, r) for r in rows]

    async def notes_on_referral(self, referral_id: int) -> list[Note]:
        rows = await self._read(
            f"SELECT {_NOTE} FROM owner_notes WHERE referral_id = $1 ORDER BY at DESC, id DESC",
            referral_id,
        )
        return [read(Note, r) for r in rows]

    async def forget_notes(self, customer_id: int) -> int:
        async with self._write() as db:
            done = await db.execute(
                "DELETE FROM owner_notes WHERE customer_id = $1 OR referral_id IN ("
                + _THEIR_REFERRALS.format(c="$1")
                + ")",
                customer_id,
            )
        return int(done.split()[-1])
