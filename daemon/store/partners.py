"""Partners: their facts, the referrals they send (ordinary referrals, by their advocate row) and
the referrals the owner gives them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Protocol

import aiosqlite

from daemon.clock import to_ms
from daemon.store.db import DB
from daemon.store.rows import (
    REFERRAL,
    GivenClient,
    GivenReferral,
    NewPartner,
    Partner,
    PartnerEdit,
    Referral,
    read,
)

_PARTNER = (
    "SELECT p.id, p.public_id, p.advocate_id, a.customer_id, a.code, p.name, c.name, c.email, "
    "p.trade, p.wants, p.reward, p.created_at FROM partners p "
    "JOIN advocates a ON a.id = p.advocate_id JOIN customers c ON c.id = a.customer_id"
)

_GIVEN = (
    "id, public_id, partner_id, client_name, client_email, note, status, value, created_at, "
    "closed_at"
)


class Partners(Protocol):
    """Partners: the roster, clients given and received, and the balance's facts."""

    async def add_partner(self, new: NewPartner, now: datetime) -> Partner | None:
        """A new partner with its code; None when this address is a partner already. An address
        that is a customer's keeps its row and code (the same person, the same links)."""

    async def update_partner(self, partner_id: int, edit: PartnerEdit, now: datetime) -> Partner:
        """Change what is given (None keeps a field); the contact is the customers row's name."""

    async def partners_matching(self, ref: str) -> list[Partner]: ...
    async def partner_by_advocate(self, advocate_id: int) -> Partner | None: ...
    async def partners(self) -> list[Partner]: ...
    async def referrals_from(self, advocate_id: int) -> list[Referral]: ...
    async def give_referral(
        self, partner_id: int, client: GivenClient, now: datetime
    ) -> GivenReferral: ...
    async def given_referral(self, public_id: str) -> GivenReferral | None: ...
    async def close_given(
        self, given_id: int, status: str, value: float | None, now: datetime
    ) -> GivenReferral: ...
    async def given_to(self, partner_id: int) -> list[GivenReferral]: ...
    async def organization_joined(self, event_id: str) -> str | None: ...
    async def partner_facts(self) -> list[tuple[Any, ...]]: ...


class PartnersSQL(DB):
    async def add_partner(self, new: NewPartner, now: datetime) -> Partner | None:
        at, email = to_ms(now), new.email.lower()
        async with self._write() as db:
            await db.execute(
                "INSERT INTO customers (email, created_at, updated_at, public_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                (email, at, at, secrets.token_hex(16)),
            )
            if new.contact:
                await db.execute(
                    "UPDATE customers SET name = ?, updated_at = ? WHERE email = ?",
                    (new.contact, at, email),
                )
            await db.execute(
                "INSERT INTO advocates (customer_id, code, created_at) "
                "SELECT id, ?, ? FROM customers WHERE email = ? "
                "ON CONFLICT (customer_id) DO NOTHING",
                (secrets.token_urlsafe(9), at, email),
            )
            cursor = await db.execute(
                "INSERT INTO partners (public_id, advocate_id, name, trade, wants, reward, "
                "created_at, updated_at) SELECT ?, a.id, ?, ?, ?, ?, ?, ? FROM advocates a "
                "JOIN customers c ON c.id = a.customer_id WHERE c.email = ? "
                "ON CONFLICT (advocate_id) DO NOTHING RETURNING id",
                (
                    "p_" + secrets.token_urlsafe(9),
                    new.name,
                    new.trade,
                    new.wants,
                    int(new.reward),
                    at,
                    at,
                    email,
                ),
            )
            row = await cursor.fetchone()
            await cursor.close()
            return await _one_partner(db, int(row[0])) if row else None

    async def update_partner(self, partner_id: int, edit: PartnerEdit, now: datetime) -> Partner:
        at, reward = to_ms(now), edit.reward
        async with self._write() as db:
            await db.execute(
                "UPDATE partners SET name = coalesce(?, name), trade = coalesce(?, trade), "
                "wants = coalesce(?, wants), reward = coalesce(?, reward), updated_at = ? "
                "WHERE id = ?",
                (
                    edit.name,
                    edit.trade,
                    edit.wants,
                    None if reward is None else int(reward),
                    at,
                    partner_id,
                ),
            )
            if edit.contact is not None:
                await db.execute(
                    "UPDATE customers SET name = ?, updated_at = ? WHERE id = (SELECT "
                    "a.customer_id FROM partners p JOIN advocates a ON a.id = p.advocate_id "
                    "WHERE p.id = ?)",
                    (edit.contact or None, at, partner_id),
                )
            return await _one_partner(db, partner_id)

    async def partners_matching(self, ref: str) -> list[Partner]:
        """Partners by public id, code, address or (case-insensitively) business name."""
        return await self._rows(
            Partner,
            f"{_PARTNER} WHERE p.public_id = :r OR a.code = :r OR c.email = lower(:r) "
            "OR lower(p.name) = lower(:r) ORDER BY p.id",
            {"r": ref},
        )

    async def partner_by_advocate(self, advocate_id: int) -> Partner | None:
        return await self._row(Partner, f"{_PARTNER} WHERE p.advocate_id = ?", (advocate_id,))

    async def partners(self) -> list[Partner]:
        return [
            read(Partner, r) for r in await self._read(f"{_PARTNER} ORDER BY lower(p.name), p.id")
        ]

    async def referrals_from(self, advocate_id: int) -> list[Referral]:
        return await self._rows(
            Referral,
            f"SELECT {REFERRAL} FROM referrals WHERE advocate_id = ? ORDER BY id",
            (advocate_id,),
        )

    async def give_referral(
        self, partner_id: int, client: GivenClient, now: datetime
    ) -> GivenReferral:
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"INSERT INTO partner_referrals (public_id, partner_id, client_name, client_email, "
                f"note, status, created_at) VALUES (?, ?, ?, ?, ?, 'given', ?) RETURNING {_GIVEN}",
                (
                    "g_" + secrets.token_urlsafe(9),
                    partner_id,
                    client.client_name,
                    client.client_email,
                    client.note,
                    to_ms(now),
                ),
            )
        return read(GivenReferral, next(iter(rows)))

    async def given_referral(self, public_id: str) -> GivenReferral | None:
        return await self._row(
            GivenReferral,
            f"SELECT {_GIVEN} FROM partner_referrals WHERE public_id = ?",
            (public_id,),
        )

    async def close_given(
        self, given_id: int, status: str, value: float | None, now: datetime
    ) -> GivenReferral:
        async with self._write() as db:
            rows = await db.execute_fetchall(
                f"UPDATE partner_referrals SET status = ?, value = coalesce(?, value), "
                f"closed_at = ? WHERE id = ? RETURNING {_GIVEN}",
                (status, value, to_ms(now), given_id),
            )
        return read(GivenReferral, next(iter(rows)))

    async def given_to(self, partner_id: int) -> list[GivenReferral]:
        return await self._rows(
            GivenReferral,
            f"SELECT {_GIVEN} FROM partner_referrals WHERE partner_id = ? ORDER BY id",
            (partner_id,),
        )

    async def organization_joined(self, event_id: str) -> str | None:
        """The organization a `partner.joined_organization` event named (validated on entry)."""
        rows = await self._read(
            "SELECT json_extract(payload, '$.data.organization') FROM events "
            "WHERE id = ? AND type = 'partner.joined_organization'",
            (event_id,),
        )
        return str(rows[0][0]) if rows and rows[0][0] else None

    async def partner_facts(self) -> list[tuple[Any, ...]]:
        """Per partner: (public id, name, contact, email, received, received won, value won,
        given, given won). Flagged referrals (self-referrals, existing customers) do not count."""
        rows = await self._read(
            """
            SELECT p.public_id, p.name, c.name, c.email,
                   (SELECT count(*) FROM referrals r
                    WHERE r.advocate_id = p.advocate_id AND r.flag IS NULL),
                   (SELECT count(*) FROM referrals r
                    WHERE r.advocate_id = p.advocate_id AND r.flag IS NULL AND r.status = 'won'),
                   (SELECT coalesce(sum(r.value), 0) FROM referrals r
                    WHERE r.advocate_id = p.advocate_id AND r.flag IS NULL AND r.status = 'won'),
                   (SELECT count(*) FROM partner_referrals g WHERE g.partner_id = p.id),
                   (SELECT count(*) FROM partner_referrals g
                    WHERE g.partner_id = p.id AND g.status = 'won')
            FROM partners p JOIN advocates a ON a.id = p.advocate_id
            JOIN customers c ON c.id = a.customer_id
            ORDER BY lower(p.name), p.id
            """
        )
        return [tuple(r) for r in rows]


async def _one_partner(db: aiosqlite.Connection, partner_id: int) -> Partner:
    rows = list(await db.execute_fetchall(f"{_PARTNER} WHERE p.id = ?", (partner_id,)))
    return read(Partner, rows[0])
