"""Partners: their facts, the referrals they send (ordinary referrals, by their advocate row) and
the referrals the owner gives them."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries, Tx
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


class PartnersQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects."""

    async def add_partner(self, new: NewPartner, now: datetime) -> Partner | None:
        email = new.email.lower()
        async with self._tx() as tx:
            await tx.execute(
                "INSERT INTO customers (email, created_at, updated_at, public_id) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING",
                email,
                now,
                now,
                secrets.token_hex(16),
            )
            if new.contact:
                await tx.execute(
                    "UPDATE customers SET name = ?, updated_at = ? WHERE email = ?",
                    new.contact,
                    now,
                    email,
                )
            await tx.execute(
                "INSERT INTO advocates (customer_id, code, created_at) "
                "SELECT id, CAST(? AS TEXT), ? FROM customers WHERE email = ? "
                "ON CONFLICT (customer_id) DO NOTHING",
                secrets.token_urlsafe(9),
                now,
                email,
            )
            added = await tx.fetchval(
                "INSERT INTO partners (public_id, advocate_id, name, trade, wants, reward, "
                "created_at, updated_at) SELECT CAST(? AS TEXT), a.id, CAST(? AS TEXT), "
                "CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ? FROM advocates a "
                "JOIN customers c ON c.id = a.customer_id WHERE c.email = ? "
                "ON CONFLICT (advocate_id) DO NOTHING RETURNING id",
                "p_" + secrets.token_urlsafe(9),
                new.name,
                new.trade,
                new.wants,
                bool(new.reward),
                now,
                now,
                email,
            )
            return None if added is None else await _one_partner(tx, int(added))

    async def update_partner(self, partner_id: int, edit: PartnerEdit, now: datetime) -> Partner:
        reward = edit.reward
        async with self._tx() as tx:
            await tx.execute(
                "UPDATE partners SET name = coalesce(?, name), trade = coalesce(?, trade), "
                "wants = coalesce(?, wants), reward = coalesce(?, reward), updated_at = ? "
                "WHERE id = ?",
                edit.name,
                edit.trade,
                edit.wants,
                None if reward is None else bool(reward),
                now,
                partner_id,
            )
            if edit.contact is not None:
                await tx.execute(
                    "UPDATE customers SET name = ?, updated_at = ? WHERE id = (SELECT "
                    "a.customer_id FROM partners p JOIN advocates a ON a.id = p.advocate_id "
                    "WHERE p.id = ?)",
                    edit.contact or None,
                    now,
                    partner_id,
                )
            return await _one_partner(tx, partner_id)

    async def partners_matching(self, ref: str) -> list[Partner]:
        """Partners by public id, code, address or (case-insensitively) business name."""
        return await self._list(
            Partner,
            f"{_PARTNER} WHERE p.public_id = ? OR a.code = ? OR c.email = lower(?) "
            "OR lower(p.name) = lower(?) ORDER BY p.id",
            *[ref] * 4,
        )

    async def partner_by_advocate(self, advocate_id: int) -> Partner | None:
        return await self._one(Partner, f"{_PARTNER} WHERE p.advocate_id = ?", advocate_id)

    async def partners(self) -> list[Partner]:
        return await self._list(Partner, f"{_PARTNER} ORDER BY lower(p.name), p.id")

    async def referrals_from(self, advocate_id: int) -> list[Referral]:
        return await self._list(
            Referral,
            f"SELECT {REFERRAL} FROM referrals WHERE advocate_id = ? ORDER BY id",
            advocate_id,
        )

    async def give_referral(
        self, partner_id: int, client: GivenClient, now: datetime
    ) -> GivenReferral:
        (row,) = await self._write_rows(
            f"INSERT INTO partner_referrals (public_id, partner_id, client_name, client_email, "
            f"note, status, created_at) VALUES (?, ?, ?, ?, ?, 'given', ?) RETURNING {_GIVEN}",
            "g_" + secrets.token_urlsafe(9),
            partner_id,
            client.client_name,
            client.client_email,
            client.note,
            now,
        )
        return read(GivenReferral, row)

    async def given_referral(self, public_id: str) -> GivenReferral | None:
        return await self._one(
            GivenReferral, f"SELECT {_GIVEN} FROM partner_referrals WHERE public_id = ?", public_id
        )

    async def close_given(
        self, given_id: int, status: str, value: float | None, now: datetime
    ) -> GivenReferral:
        (row,) = await self._write_rows(
            f"UPDATE partner_referrals SET status = ?, value = coalesce(?, value), "
            f"closed_at = ? WHERE id = ? RETURNING {_GIVEN}",
            status,
            value,
            now,
            given_id,
        )
        return read(GivenReferral, row)

    async def given_to(self, partner_id: int) -> list[GivenReferral]:
        return await self._list(
            GivenReferral,
            f"SELECT {_GIVEN} FROM partner_referrals WHERE partner_id = ? ORDER BY id",
            partner_id,
        )

    async def organization_joined(self, event_id: str) -> str | None:
        """The organization a `partner.joined_organization` event named (validated on entry)."""
        found = await self._value(
            f"SELECT {self._json_text('payload', 'data.organization')} FROM events "
            "WHERE id = ? AND type = 'partner.joined_organization'",
            event_id,
        )
        return str(found) if found else None

    async def partner_facts(self) -> list[tuple[Any, ...]]:
        """Per partner: (public id, name, contact, email, received, received won, value won,
        given, given won). Flagged referrals (self-referrals, existing customers) do not count."""
        rows = await self._fetch(
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


class PartnersSQL(PartnersQueries, DB):
    pass


class PartnersPG(PartnersQueries, PGDB):
    """Partners on PostgreSQL: the same calls."""


async def _one_partner(tx: Tx, partner_id: int) -> Partner:
    row = await tx.fetchrow(f"{_PARTNER} WHERE p.id = ?", partner_id)
    assert row is not None
    return read(Partner, row)
