"""The outbox (leased claims, batched settlements), the sending pause and the suppression list;
its SQLite half and its PostgreSQL half."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, cast

from daemon.clock import from_ms, to_ms
from daemon.mail.outbox import WEBHOOK, NewEmail, OutboxRow, Outcome, Pause, Settlement, State
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.rows import read

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


class OutboxSQL(DB):
    async def enqueue(self, email: NewEmail, now: datetime) -> int | None:
        """Add an email unless its key exists; to a suppressed address: recorded, not queued."""
        async with self._write() as db:
            cursor = await db.execute(
                "SELECT 1 FROM suppressions WHERE email IN (?, ?)",
                suppression_keys(email.recipient),
            )
            suppressed = await cursor.fetchone() is not None
            cursor = await db.execute(
                """
                INSERT INTO outbox (dedupe_key, kind, customer_id, invitation_id, recipient,
                                    envelope_from, message_id, message, state, due_at,
                                    last_error, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING id
                """,
                (
                    email.dedupe_key,
                    email.kind,
                    email.customer_id,
                    email.invitation_id,
                    email.recipient,
                    email.envelope_from,
                    email.message_id,
                    email.message,
                    State.SUPPRESSED if suppressed else State.QUEUED,
                    to_ms(email.not_before),
                    "address is suppressed" if suppressed else None,
                    to_ms(now),
                    to_ms(now),
                ),
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else None

    async def enqueue_many(self, emails: Sequence[NewEmail], now: datetime) -> None:
        """Many emails in one transaction (a scheduler sweep), queued as they are: the caller
        decided suppression for them just before (the scheduler, when their surveys fell due),
        and the sender decides it again when it claims them, so one suppressed meanwhile is
        settled suppressed, never sent. A dedupe key seen before adds nothing."""
        if emails:
            await self._write_many([(INSERT_OUTBOX, outbox_rows(emails, now))])

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
        now_ms = to_ms(now)
        lease_until = now_ms + int(lease_seconds * 1000)
        only = f"AND id IN ({', '.join('?' * len(ids))})" if ids else ""
        if webhooks is not None:
            only += f" AND kind {'=' if webhooks else '!='} '{WEBHOOK}'"
        sql = f"""
            UPDATE outbox SET state = 'sending', lease_owner = ?, due_at = ?, updated_at = ?
            WHERE id IN (
                SELECT id FROM outbox
                WHERE state IN ('queued', 'sending') AND due_at <= ? {only}
                ORDER BY due_at LIMIT ?
            )
            RETURNING {_ROW_COLUMNS}
            """
        params = (owner, lease_until, now_ms, now_ms, *ids, limit)
        rows = await self._transaction(lambda db: db.execute(sql, params).fetchall())
        return sorted((read(OutboxRow, r) for r in rows), key=lambda r: r.id)

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """Record many outcomes in one transaction (the sender batches them). Only rows still
        being sent take them: one forgotten meanwhile (`vouch forget`) stays as forget left it."""
        if not settlements:
            return
        now_ms = to_ms(now)
        sent: list[tuple[object, ...]] = []
        retry: list[tuple[object, ...]] = []
        held: list[tuple[object, ...]] = []
        other: list[tuple[object, ...]] = []
        suppress: list[tuple[object, ...]] = []
        for s in settlements:
            if s.outcome is Outcome.SENT:
                sent.append((now_ms, now_ms, s.row_id))
            elif s.outcome is Outcome.RETRY:
                assert s.retry_at is not None
                retry.append((to_ms(s.retry_at), s.error, now_ms, s.row_id))
            elif s.outcome is Outcome.HELD:
                held.append((to_ms(s.retry_at or now), s.error, now_ms, s.row_id))
            else:
                tried = 1 if s.outcome is Outcome.FAILED else 0
                other.append((s.outcome.value, tried, s.error, now_ms, s.row_id))
            if s.suppress:
                suppress.append((s.suppress.lower(), s.error or "permanent failure", now_ms))
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

    async def save_rendered(
        self, owner: str, messages: Mapping[int, bytes], now: datetime
    ) -> set[int]:
        """Store the bytes of claimed rows rendered at claim, in one statement, before they
        are sent: a retry (or a restart) sends these bytes. Only rows still leased to `owner`
        and still unrendered take them (a person forgotten meanwhile keeps nothing); returns
        the ids that did, the only ones to send."""
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
        params = (to_ms(now), *(x for pair in messages.items() for x in pair), owner)
        rows = await self._transaction(lambda db: db.execute(sql, params).fetchall())
        return {int(r[0]) for r in rows}

    async def release_leases(self, owner: str, now: datetime) -> int:
        """Return this owner's leased rows to the queue (restart after a crash, or a clean stop)."""
        async with self._write() as db:
            cursor = await db.execute(
                "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = ?, "
                "updated_at = ? WHERE state = 'sending' AND lease_owner = ?",
                (to_ms(now), to_ms(now), owner),
            )
            return int(cursor.rowcount)

    async def outbox_counts(self) -> dict[State, int]:
        rows = await self._read("SELECT state, count(*) FROM outbox GROUP BY state")
        counts = dict.fromkeys(State, 0)
        counts.update({State(r[0]): int(r[1]) for r in rows})
        return counts

    async def outbox_row(self, row_id: int) -> OutboxRow | None:
        return await self._row(
            OutboxRow, f"SELECT {_ROW_COLUMNS} FROM outbox WHERE id = ?", (row_id,)
        )

    async def next_due(self) -> datetime | None:
        rows = await self._read(
            "SELECT min(due_at) FROM outbox WHERE state IN ('queued', 'sending')"
        )
        return from_ms(rows[0][0]) if rows and rows[0][0] is not None else None

    async def sending_pause(self) -> Pause | None:
        return await self._row(Pause, f"SELECT {_PAUSE_COLUMNS} FROM sending_pause WHERE id = 1")

    async def pause_sending(self, pause: Pause, refund: Sequence[int], now: datetime) -> None:
        """Pause, or move the pause in force on (its reason and next probe; `since` stays).
        The emails in `refund` were refused before the pause was seen for what it is: they get
        their try back and are due at once, like the rows held while paused."""
        now_ms = to_ms(now)

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                f"INSERT INTO sending_pause (id, {_PAUSE_COLUMNS}) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, "
                "probe_at = excluded.probe_at, wait_seconds = excluded.wait_seconds",
                (pause.reason, to_ms(pause.since), to_ms(pause.probe_at), pause.wait_seconds),
            )
            db.executemany(
                "UPDATE outbox SET attempts = attempts - 1, due_at = ?, updated_at = ? "
                "WHERE id = ? AND state = 'queued' AND attempts > 0",
                [(now_ms, now_ms, row_id) for row_id in refund],
            )

        await self._transaction(work)

    async def resume_sending(self) -> Pause | None:
        """End the pause; the one that was in force, or None when sending was not paused."""

        def work(db: sqlite3.Connection) -> list[Any]:
            return db.execute(f"DELETE FROM sending_pause RETURNING {_PAUSE_COLUMNS}").fetchall()

        rows = await self._transaction(work)
        return read(Pause, rows[0]) if rows else None

    async def suppress(self, email: str, reason: str, now: datetime) -> None:
        await self._write_one(
            "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (email) DO NOTHING",
            (email.lower(), reason, to_ms(now)),
        )

    async def suppression_reason(self, email: str) -> str | None:
        return (await self.suppression_reasons([email])).get(email.lower())

    async def suppression_reasons(self, emails: Iterable[str]) -> dict[str, str]:
        """By lower-cased address; a forgotten address is found by its hash (`sha256:...`)."""
        keys = {key: e.lower() for e in emails for key in suppression_keys(e)}
        if not keys:
            return {}
        wanted = sorted(keys)
        marks = ", ".join("?" * len(wanted))
        rows = await self._read(
            f"SELECT email, reason FROM suppressions WHERE email IN ({marks})", wanted
        )
        return {keys[str(r[0])]: str(r[1]) for r in rows}

    async def suppressed(self, emails: Iterable[str]) -> set[str]:
        return set(await self.suppression_reasons(emails))

    async def suppressions_of(self, email: str) -> list[tuple[str, datetime]]:
        """(reason, since) of each suppression of the address, as itself or hashed once
        forgotten."""
        rows = await self._read(
            "SELECT reason, created_at FROM suppressions WHERE email IN (?, ?) ORDER BY email",
            suppression_keys(email),
        )
        return [(str(r[0]), from_ms(r[1])) for r in rows]

    async def lift_suppression(
        self, email: str, reason: str, by: str, now: datetime
    ) -> datetime | None:
        """Remove the address's suppression if it still has `reason`, and record who lifted it
        and when (the address kept only as its hash); returns when it had been suppressed."""
        address, hashed = suppression_keys(email)
        async with self._write() as db:
            cursor = await db.execute(
                "DELETE FROM suppressions WHERE email = ? AND reason = ? RETURNING created_at",
                (address, reason),
            )
            row = await cursor.fetchone()
            if row is None:
                return None
            await db.execute(
                "INSERT INTO resubscriptions (address_hash, reason, suppressed_at, by, at) "
                "VALUES (?, ?, ?, ?, ?)",
                (hashed, reason, row[0], by, to_ms(now)),
            )
        return from_ms(row[0])


class OutboxPG(PGDB):
    """The outbox on PostgreSQL: the same calls, and claims that several workers can make at
    once, each row leased to one of them (`FOR UPDATE SKIP LOCKED`)."""

    async def enqueue(self, email: NewEmail, now: datetime) -> int | None:
        """Add an email unless its key exists; to a suppressed address: recorded, not queued."""
        async with self._write() as db:
            suppressed = await db.fetchval(
                "SELECT EXISTS (SELECT 1 FROM suppressions WHERE email = ANY($1::text[]))",
                list(suppression_keys(email.recipient)),
            )
            return cast(
                "int | None",
                await db.fetchval(
                    _PG_INSERT + " RETURNING id",
                    *_pg_row(email, now, State.SUPPRESSED if suppressed else State.QUEUED),
                    "address is suppressed" if suppressed else None,
                ),
            )

    async def enqueue_many(self, emails: Sequence[NewEmail], now: datetime) -> None:
        """As OutboxSQL.enqueue_many: queued as they are, a dedupe key seen before adds nothing."""
        rows = [(*_pg_row(e, now, State.QUEUED), None) for e in emails]
        await self._write_many([(_PG_INSERT, rows)])

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
        """Lease up to `limit` due rows to `owner`; rows another worker is claiming are skipped,
        never waited for nor taken twice. A lease that runs out returns its row."""
        only = " AND id = ANY($5::bigint[])" if ids else ""
        if webhooks is not None:
            only += f" AND kind {'=' if webhooks else '!='} '{WEBHOOK}'"
        sql = f"""
            UPDATE outbox SET state = 'sending', lease_owner = $1, due_at = $2, updated_at = $3
            WHERE id IN (
                SELECT id FROM outbox
                WHERE state IN ('queued', 'sending') AND due_at <= $3 {only}
                ORDER BY due_at LIMIT $4
                FOR UPDATE SKIP LOCKED
            )
            RETURNING {_ROW_COLUMNS}
            """
        until = now + timedelta(seconds=lease_seconds)
        args: list[Any] = [owner, until, now, limit, *([list(ids)] if ids else [])]
        async with self._write() as db:
            rows = await db.fetch(sql, *args)
        return sorted((read(OutboxRow, r) for r in rows), key=lambda r: r.id)

    async def settle(self, settlements: Sequence[Settlement], now: datetime) -> None:
        """As OutboxSQL.settle: only rows still being sent take their outcome."""
        async with self._write() as db:
            for s in settlements:
                if s.outcome is Outcome.SENT:
                    await db.execute(
                        "UPDATE outbox SET state = 'sent', lease_owner = NULL, sent_at = $1, "
                        "attempts = attempts + 1, last_error = NULL, updated_at = $1 "
                        "WHERE id = $2 AND state = 'sending'",
                        now,
                        s.row_id,
                    )
                elif s.outcome in (Outcome.RETRY, Outcome.HELD):
                    tried = 1 if s.outcome is Outcome.RETRY else 0
                    await db.execute(
                        "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = $1, "
                        "attempts = attempts + $2, last_error = $3, updated_at = $4 "
                        "WHERE id = $5 AND state = 'sending'",
                        s.retry_at or now,
                        tried,
                        s.error,
                        now,
                        s.row_id,
                    )
                else:
                    await db.execute(
                        "UPDATE outbox SET state = $1, lease_owner = NULL, "
                        "attempts = attempts + $2, last_error = $3, updated_at = $4 "
                        "WHERE id = $5 AND state = 'sending'",
                        s.outcome.value,
                        1 if s.outcome is Outcome.FAILED else 0,
                        s.error,
                        now,
                        s.row_id,
                    )
                if s.suppress:
                    await db.execute(
                        "INSERT INTO suppressions (email, reason, created_at) VALUES ($1, $2, $3) "
                        "ON CONFLICT (email) DO NOTHING",
                        s.suppress.lower(),
                        s.error or "permanent failure",
                        now,
                    )

    async def save_rendered(
        self, owner: str, messages: Mapping[int, bytes], now: datetime
    ) -> set[int]:
        """As OutboxSQL.save_rendered: only rows still leased to `owner` and unrendered."""
        if not messages:
            return set()
        async with self._write() as db:
            rows = await db.fetch(
                "UPDATE outbox SET message = v.message, updated_at = $1 "
                "FROM unnest($2::bigint[], $3::bytea[]) AS v(id, message) "
                "WHERE outbox.id = v.id AND outbox.state = 'sending' "
                "AND outbox.lease_owner = $4 AND outbox.message = ''::bytea RETURNING outbox.id",
                now,
                list(messages),
                list(messages.values()),
                owner,
            )
        return {int(r[0]) for r in rows}

    async def release_leases(self, owner: str, now: datetime) -> int:
        async with self._write() as db:
            done = await db.execute(
                "UPDATE outbox SET state = 'queued', lease_owner = NULL, due_at = $1, "
                "updated_at = $1 WHERE state = 'sending' AND lease_owner = $2",
                now,
                owner,
            )
        return int(done.split()[-1])

    async def outbox_counts(self) -> dict[State, int]:
        rows = await self._read("SELECT state, count(*) FROM outbox GROUP BY state")
        counts = dict.fromkeys(State, 0)
        counts.update({State(r[0]): int(r[1]) for r in rows})
        return counts

    async def outbox_row(self, row_id: int) -> OutboxRow | None:
        rows = await self._read(f"SELECT {_ROW_COLUMNS} FROM outbox WHERE id = $1", row_id)
        return read(OutboxRow, rows[0]) if rows else None

    async def next_due(self) -> datetime | None:
        rows = await self._read(
            "SELECT min(due_at) FROM outbox WHERE state IN ('queued', 'sending')"
        )
        return cast("datetime | None", rows[0][0])

    async def sending_pause(self) -> Pause | None:
        rows = await self._read(f"SELECT {_PAUSE_COLUMNS} FROM sending_pause WHERE id = 1")
        return read(Pause, rows[0]) if rows else None

    async def pause_sending(self, pause: Pause, refund: Sequence[int], now: datetime) -> None:
        """As OutboxSQL.pause_sending."""
        async with self._write() as db:
            await db.execute(
                f"INSERT INTO sending_pause (id, {_PAUSE_COLUMNS}) VALUES (1, $1, $2, $3, $4) "
                "ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, "
                "probe_at = excluded.probe_at, wait_seconds = excluded.wait_seconds",
                pause.reason,
                pause.since,
                pause.probe_at,
                pause.wait_seconds,
            )
            await db.execute(
                "UPDATE outbox SET attempts = attempts - 1, due_at = $1, updated_at = $1 "
                "WHERE id = ANY($2::bigint[]) AND state = 'queued' AND attempts > 0",
                now,
                list(refund),
            )

    async def resume_sending(self) -> Pause | None:
        async with self._write() as db:
            rows = await db.fetch(f"DELETE FROM sending_pause RETURNING {_PAUSE_COLUMNS}")
        return read(Pause, rows[0]) if rows else None

    async def suppress(self, email: str, reason: str, now: datetime) -> None:
        async with self._write() as db:
            await db.execute(
                "INSERT INTO suppressions (email, reason, created_at) VALUES ($1, $2, $3) "
                "ON CONFLICT (email) DO NOTHING",
                email.lower(),
                reason,
                now,
            )

    async def suppression_reason(self, email: str) -> str | None:
        return (await self.suppression_reasons([email])).get(email.lower())

    async def suppression_reasons(self, emails: Iterable[str]) -> dict[str, str]:
        keys = {key: e.lower() for e in emails for key in suppression_keys(e)}
        if not keys:
            return {}
        rows = await self._read(
            "SELECT email, reason FROM suppressions WHERE email = ANY($1::text[])", sorted(keys)
        )
        return {keys[str(r[0])]: str(r[1]) for r in rows}

    async def suppressed(self, emails: Iterable[str]) -> set[str]:
        return set(await self.suppression_reasons(emails))

    async def suppressions_of(self, email: str) -> list[tuple[str, datetime]]:
        rows = await self._read(
            "SELECT reason, created_at FROM suppressions WHERE email = ANY($1::text[]) "
            "ORDER BY email",
            list(suppression_keys(email)),
        )
        return [(str(r[0]), r[1]) for r in rows]

    async def lift_suppression(
        self, email: str, reason: str, by: str, now: datetime
    ) -> datetime | None:
        address, hashed = suppression_keys(email)
        async with self._write() as db:
            since = await db.fetchval(
                "DELETE FROM suppressions WHERE email = $1 AND reason = $2 RETURNING created_at",
                address,
                reason,
            )
            if since is None:
                return None
            await db.execute(
                "INSERT INTO resubscriptions (address_hash, reason, suppressed_at, by, at) "
                "VALUES ($1, $2, $3, $4, $5)",
                hashed,
                reason,
                since,
                by,
                now,
            )
        return cast(datetime, since)


_PG_INSERT = """
    INSERT INTO outbox (dedupe_key, kind, customer_id, invitation_id, recipient, envelope_from,
                        message_id, message, state, due_at, created_at, updated_at, last_error)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
    ON CONFLICT (dedupe_key) DO NOTHING
"""


def _pg_row(e: NewEmail, now: datetime, state: State) -> tuple[object, ...]:
    """_PG_INSERT's parameters but the last (the error)."""
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
        now,
    )


def outbox_rows(emails: Sequence[NewEmail], now: datetime) -> list[tuple[object, ...]]:
    """INSERT_OUTBOX's parameters: each row queued (a dedupe key seen before adds nothing)."""
    return [
        (
            e.dedupe_key,
            e.kind,
            e.customer_id,
            e.invitation_id,
            e.recipient,
            e.envelope_from,
            e.message_id,
            e.message,
            State.QUEUED,
            to_ms(e.not_before),
            None,
            to_ms(now),
            to_ms(now),
        )
        for e in emails
    ]


def suppression_keys(email: str) -> tuple[str, str]:
    """How an address can stand in the suppression list: as itself, or hashed once forgotten."""
    address = email.lower()
    return address, "sha256:" + hashlib.sha256(address.encode()).hexdigest()
