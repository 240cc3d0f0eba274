"""The outbox (leased claims, batched settlements), the sending pause and the suppression list;
its SQLite half and its PostgreSQL half."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from daemon.mail.outbox import WEBHOOK, NewEmail, OutboxRow, Outcome, Pause, Settlement, State
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import as_time, read

_ROW_COLUMNS = (  # OutboxRow's fields in order: Addressed's, then its own
    "dedupe_key, kind, recipient, envelope_from, message_id, message, id, state, attempts, "
    "last_error, invitation_id"
)

INSERT_OUTBOX = """
    INSERT INTO outbox (dedupe_key, kind, customer_id, invitation_id, recipient,
                        envelope_from, message_id, message, state, due_at, last_error,
                        created_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (dedupe_key) DO NOTHING
"""

_PAUSE_COLUMNS = "reason, since, probe_at, wait_seconds"


class Outbox(Protocol):
    """What the sender and the sweeps that queue mail use: rows queued, leased, rendered and
    settled; the pause while the relay refuses us; the addresses never written to."""

    async def enqueue(self, email: NewEmail, now: datetime) -> int | None: ...
    async def enqueue_many(self, emails: Sequence[NewEmail], now: datetime) -> None: ...
    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        ids: Sequence[int] = (),
        *,
        webhooks: bool | None = None,
    ) -> list[OutboxRow]: ...
    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None: ...
    async def save_rendered(
        self, owner: str, messages: Mapping[int, bytes], now: datetime
    ) -> set[int]: ...
    async def release_leases(self, owner: str, now: datetime) -> int: ...
    async def outbox_counts(self) -> dict[State, int]: ...
    async def outbox_row(self, row_id: int) -> OutboxRow | None: ...
    async def next_due(self) -> datetime | None: ...
    async def sending_pause(self) -> Pause | None: ...
    async def pause_sending(self, pause: Pause, refund: Sequence[int], now: datetime) -> None: ...
    async def resume_sending(self) -> Pause | None: ...
    async def suppress(self, email: str, reason: str, now: datetime) -> None: ...
    async def suppression_reason(self, email: str) -> str | None: ...
    async def suppression_reasons(self, emails: Iterable[str]) -> dict[str, str]: ...
    async def suppressed(self, emails: Iterable[str]) -> set[str]: ...
    async def suppressions_of(self, email: str) -> list[tuple[str, datetime]]: ...
    async def lift_suppression(
        self, email: str, reason: str, by: str, now: datetime
    ) -> datetime | None: ...


class OutboxQueries(Queries):
    """Both halves' calls but saving rendered bytes (see each half)."""

    async def claim(
        self,
        owner: str,
        now: datetime,
        lease_seconds: float,
        limit: int,
        ids: Sequence[int] = (),
        *,
        webhooks: bool | None = None,
    ) -> list[OutboxRow]:
        """Lease up to `limit` due rows to `owner`. A lease that runs out returns its row.
        `webhooks`: only webhook rows (True), only emails (False), or both (None)."""
        among, only_ids = self._in(ids)
        only = f"AND id {among}" if ids else ""
        if webhooks is not None:
            only += f" AND kind {'=' if webhooks else '!='} '{WEBHOOK}'"
        until = now + timedelta(seconds=lease_seconds)
        rows = await self._write_rows(
            f"""
            UPDATE outbox SET state = 'sending', lease_owner = ?, due_at = ?, updated_at = ?
            WHERE id IN (
                SELECT id FROM outbox
                WHERE state IN ('queued', 'sending') AND due_at <= ? {only}
                ORDER BY due_at LIMIT ? {self._SKIP_LOCKED}
            )
            RETURNING {_ROW_COLUMNS}
            """,
            owner,
            until,
            now,
            now,
            *(only_ids if ids else ()),
            limit,
        )
        return sorted((read(OutboxRow, r) for r in rows), key=lambda r: r.id)

    async def enqueue(self, email: NewEmail, now: datetime) -> int | None:
        """Add an email unless its key exists; to a suppressed address: recorded, not queued."""
        async with self._tx() as tx:
            suppressed = await tx.fetchrow(
                "SELECT 1 FROM suppressions WHERE email IN (?, ?)",
                *suppression_keys(email.recipient),
            )
            state = State.SUPPRESSED if suppressed else State.QUEUED
            error = "address is suppressed" if suppressed else None
            row_id = await tx.fetchval(
                INSERT_OUTBOX + " RETURNING id", *_outbox_row(email, now, state, error)
            )
        return None if row_id is None else int(row_id)

    async def enqueue_many(self, emails: Sequence[NewEmail], now: datetime) -> None:
        """Many emails in one transaction (a scheduler sweep), queued as they are: the caller
        decided suppression for them just before (the scheduler, when their surveys fell due),
        and the sender decides it again when it claims them, so one suppressed meanwhile is
        settled suppressed, never sent. A dedupe key seen before adds nothing."""
        if emails:
            await self._write_many([(INSERT_OUTBOX, outbox_rows(emails, now))])

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """Record many outcomes in one transaction (the sender batches them). Only rows still
        being sent take them: one forgotten meanwhile (`vouch forget`) stays as forget left it."""
        if not settlements:
            return
        sent: list[tuple[object, ...]] = []
        retry: list[tuple[object, ...]] = []
        held: list[tuple[object, ...]] = []
        other: list[tuple[object, ...]] = []
        suppress: list[tuple[object, ...]] = []
        for s in settlements:
            if s.outcome is Outcome.SENT:
                sent.append((now, now, s.row_id))
            elif s.outcome is Outcome.RETRY:
                assert s.retry_at is not None
                retry.append((s.retry_at, s.error, now, s.row_id))
            elif s.outcome is Outcome.HELD:
                held.append((s.retry_at or now, s.error, now, s.row_id))
            else:
                tried = 1 if s.outcome is Outcome.FAILED else 0
                other.append((s.outcome.value, tried, s.error, now, s.row_id))
            if s.suppress:
                suppress.append((s.suppress.lower(), s.error or "permanent failure", now))
        await self._write_many(
            [
                (
                    "UPDATE outbox SET state = 'sent', lease_owner = NULL, sent_at = ?, "
                    "attempts = attempts + 1, last_error = NULL, updated_at = ? WHERE id = ? "
                    "AND state = 'sending'",
                    sent,
                ),
                (
                    "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = ?, "
                    "attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? "
                    "AND state = 'sending'",
                    retry,
                ),
                (
                    "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = ?, "
                    "last_error = ?, updated_at = ? WHERE id = ? AND state = 'sending'",
                    held,
                ),
                (
                    "UPDATE outbox SET state = ?, lease_owner = NULL, "
                    "attempts = attempts + ?, last_error = ?, updated_at = ? WHERE id = ? "
                    "AND state = 'sending'",
                    other,
                ),
                (
                    "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (email) DO NOTHING",
                    suppress,
                ),
            ]
        )

    async def release_leases(self, owner: str, now: datetime) -> int:
        """Return this owner's leased rows to the queue (restart after a crash, or a clean stop)."""
        return await self._apply(
            "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = ?, "
            "updated_at = ? WHERE state = 'sending' AND lease_owner = ?",
            now,
            now,
            owner,
        )

    async def outbox_counts(self) -> dict[State, int]:
        rows = await self._fetch("SELECT state, count(*) FROM outbox GROUP BY state")
        counts = dict.fromkeys(State, 0)
        counts.update({State(r[0]): int(r[1]) for r in rows})
        return counts

    async def outbox_row(self, row_id: int) -> OutboxRow | None:
        return await self._one(OutboxRow, f"SELECT {_ROW_COLUMNS} FROM outbox WHERE id = ?", row_id)

    async def next_due(self) -> datetime | None:
        due = await self._value(
            "SELECT min(due_at) FROM outbox WHERE state IN ('queued', 'sending')"
        )
        return None if due is None else as_time(due)

    async def sending_pause(self) -> Pause | None:
        return await self._one(Pause, f"SELECT {_PAUSE_COLUMNS} FROM sending_pause WHERE id = 1")

    async def pause_sending(self, pause: Pause, refund: Sequence[int], now: datetime) -> None:
        """Pause, or move the pause in force on (its reason and next probe; `since` stays).
        The emails in `refund` were refused before the pause was seen for what it is: they get
        their try back and are due at once, like the rows held while paused."""
        await self._write_many(
            [
                (
                    f"INSERT INTO sending_pause (id, {_PAUSE_COLUMNS}) VALUES (1, ?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, "
                    "probe_at = excluded.probe_at, wait_seconds = excluded.wait_seconds",
                    [(pause.reason, pause.since, pause.probe_at, pause.wait_seconds)],
                ),
                (
                    "UPDATE outbox SET attempts = attempts - 1, due_at = ?, updated_at = ? "
                    "WHERE id = ? AND state = 'queued' AND attempts > 0",
                    [(now, now, row_id) for row_id in refund],
                ),
            ]
        )

    async def resume_sending(self) -> Pause | None:
        """End the pause; the one that was in force, or None when sending was not paused."""
        rows = await self._write_rows(f"DELETE FROM sending_pause RETURNING {_PAUSE_COLUMNS}")
        return read(Pause, rows[0]) if rows else None

    async def suppress(self, email: str, reason: str, now: datetime) -> None:
        await self._apply(
            "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (email) DO NOTHING",
            email.lower(),
            reason,
            now,
        )

    async def suppression_reason(self, email: str) -> str | None:
        return (await self.suppression_reasons([email])).get(email.lower())

    async def suppression_reasons(self, emails: Iterable[str]) -> dict[str, str]:
        """By lower-cased address; a forgotten address is found by its hash (`sha256:...`)."""
        keys = {key: e.lower() for e in emails for key in suppression_keys(e)}
        if not keys:
            return {}
        among, wanted = self._in(sorted(keys))
        rows = await self._fetch(
            f"SELECT email, reason FROM suppressions WHERE email {among}", *wanted
        )
        return {keys[str(r[0])]: str(r[1]) for r in rows}

    async def suppressed(self, emails: Iterable[str]) -> set[str]:
        return set(await self.suppression_reasons(emails))

    async def suppressions_of(self, email: str) -> list[tuple[str, datetime]]:
        """(reason, since) of each suppression of the address, as itself or hashed once
        forgotten."""
        rows = await self._fetch(
            "SELECT reason, created_at FROM suppressions WHERE email IN (?, ?) ORDER BY email",
            *suppression_keys(email),
        )
        return [(str(r[0]), as_time(r[1])) for r in rows]

    async def lift_suppression(
        self, email: str, reason: str, by: str, now: datetime
    ) -> datetime | None:
        """Remove the address's suppression if it still has `reason`, and record who lifted it
        and when (the address kept only as its hash); returns when it had been suppressed."""
        address, hashed = suppression_keys(email)
        async with self._tx() as tx:
            since = await tx.fetchval(
                "DELETE FROM suppressions WHERE email = ? AND reason = ? RETURNING created_at",
                address,
                reason,
            )
            if since is None:
                return None
            await tx.execute(
                "INSERT INTO resubscriptions (address_hash, reason, suppressed_at, by, at) "
                "VALUES (?, ?, ?, ?, ?)",
                hashed,
                reason,
                since,
                by,
                now,
            )
        return as_time(since)


class OutboxSQL(OutboxQueries, DB):
    """The outbox on SQLite: a claim and a save are one statement each, in one trip to the
    layer's thread."""

    async def save_rendered(
        self, owner: str, messages: Mapping[int, bytes], now: datetime
    ) -> set[int]:
        """Store the bytes of claimed rows rendered at claim, in one statement, before they
        are sent: a retry (or a restart) sends these bytes. Only rows still leased to `owner`
        and still unrendered take them (a person forgotten meanwhile keeps nothing); returns
        the ids that did, the only ones to send. The rows come as a VALUES list (SQLite has no
        arrays to unnest)."""
        if not messages:
            return set()
        values = ", ".join("(?, ?)" for _ in messages)
        sql = f"""
            UPDATE outbox SET message = v.column2, updated_at = ?
            FROM (VALUES {values}) AS v
            WHERE outbox.id = v.column1 AND outbox.state = 'sending'
              AND outbox.lease_owner = ? AND outbox.message = X''
            RETURNING outbox.id
            """
        pairs = (x for pair in messages.items() for x in pair)
        return {int(r[0]) for r in await self._write_rows(sql, now, *pairs, owner)}


class OutboxPG(OutboxQueries, PGDB):
    """The outbox on PostgreSQL: the same calls, and claims that several workers can make at
    once, each row leased to one of them: rows another worker is claiming are skipped, never
    waited for nor taken twice (the layer's _SKIP_LOCKED)."""

    async def save_rendered(
        self, owner: str, messages: Mapping[int, bytes], now: datetime
    ) -> set[int]:
        """As OutboxSQL.save_rendered; the rows come as two arrays, unnested (one plan for
        any number of rows)."""
        if not messages:
            return set()
        rows = await self._write_rows(
            "UPDATE outbox SET message = v.message, updated_at = ? "
            "FROM unnest(CAST(? AS bigint[]), CAST(? AS bytea[])) AS v(id, message) "
            "WHERE outbox.id = v.id AND outbox.state = 'sending' "
            "AND outbox.lease_owner = ? AND outbox.message = ''::bytea RETURNING outbox.id",
            now,
            list(messages),
            list(messages.values()),
            owner,
        )
        return {int(r[0]) for r in rows}


def _outbox_row(e: NewEmail, now: datetime, state: State, error: str | None) -> tuple[object, ...]:
    """INSERT_OUTBOX's parameters for one email."""
    return (
        e.dedupe_key,
        e.kind,
        e.customer_id,
        e.invitation_id,
        e.recipient,
        e.envelope_from,
        e.message_id,
        e.message,
        state.value,
        e.not_before,
        error,
        now,
        now,
    )


def outbox_rows(emails: Sequence[NewEmail], now: datetime) -> list[tuple[object, ...]]:
    """INSERT_OUTBOX's parameters: each row queued (a dedupe key seen before adds nothing)."""
    return [_outbox_row(e, now, State.QUEUED, None) for e in emails]


def suppression_keys(email: str) -> tuple[str, str]:
    """How an address can stand in the suppression list: as itself, or hashed once forgotten."""
    address = email.lower()
    return address, "sha256:" + hashlib.sha256(address.encode()).hexdigest()
