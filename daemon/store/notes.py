"""The owner's private notes on a customer or a referral: who wrote what, and when.

Never shown to a customer or an advocate (a referral's note for the advocate is its step's
note, daemon/store/referrals.py). A note names a person, so `forget_notes` erases every note
on that person and on the referrals they are in, before the person is forgotten.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import Holder

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


_FORGET = (
    "DELETE FROM owner_notes WHERE customer_id = ? OR referral_id IN ("
    + _THEIR_REFERRALS.format(c="?")
    + ")"
)


class NotesQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

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
        ((made,),) = await self._write_rows(
            "INSERT INTO owner_notes (customer_id, referral_id, at, user_id, by, text) "
            "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            customer_id, referral_id, now, holder.user_id, holder.name, text,
        )  # fmt: skip
        return int(made)

    async def notes_on_customer(self, customer_id: int) -> list[Note]:
        return await self._list(
            Note,
            f"SELECT {_NOTE} FROM owner_notes WHERE customer_id = ? ORDER BY at DESC, id DESC",
            customer_id,
        )

    async def notes_on_referral(self, referral_id: int) -> list[Note]:
        return await self._list(
            Note,
            f"SELECT {_NOTE} FROM owner_notes WHERE referral_id = ? ORDER BY at DESC, id DESC",
            referral_id,
        )


class NotesSQL(NotesQueries, DB):
    async def forget_notes(self, customer_id: int) -> int:
        async with self._tx() as tx:
            await tx.execute("PRAGMA secure_delete = ON")  # as `forget` does: no old copies
            return await tx.execute(_FORGET, *(customer_id,) * 3)


class NotesPG(NotesQueries, PGDB):
    """PostgreSQL keeps old row versions until vacuum (see PrivacyPG): nothing to zero here."""

    async def forget_notes(self, customer_id: int) -> int:
        return await self._apply(_FORGET, *(customer_id,) * 3)
