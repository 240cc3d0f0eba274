"""The path from event to email reads the customer and checks suppression once per step: once
when the event is planned, once when the survey falls due and is queued, once when the sender
claims the row (daemon/surveys/survey_email.py tells the path). Counted on the SQL the database
itself is given (SQLite's trace callback on the store's own connection, asyncpg's query logger
on each of the PostgreSQL pool's), so a check added in any layer, Python or SQL, is seen. Real
store (both), templates and SMTP server."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from datetime import timedelta
from typing import Any

import pytest
from loop import Loop, running

from daemon.config import Config
from daemon.mail.outbox import State

from smtp_server import SmtpServer

#: a claim leases rows: it sets their state to 'sending' (a settlement only tests for it)
CLAIM = re.compile(r"UPDATE\s+outbox\s+SET\s+([^;]*?,\s*)?state\s*=\s*'sending'", re.IGNORECASE)
CUSTOMER_READ = re.compile(r"\b(FROM|JOIN)\s+customers\b", re.IGNORECASE)
SUPPRESSION_CHECK = re.compile(r"\b(FROM|JOIN)\s+suppressions\b", re.IGNORECASE)


class Statements(list[str]):
    """Every statement the store's database runs on connections opened from now on, in order."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__()
        connect = sqlite3.connect

        def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            db: sqlite3.Connection = connect(*args, **kwargs)
            db.set_trace_callback(self.append)
            return db

        monkeypatch.setattr(sqlite3, "connect", traced)
        with contextlib.suppress(ImportError):  # the `postgres` extra
            import asyncpg

            create_pool = asyncpg.create_pool

            async def logged(connection: Any) -> None:
                connection.add_query_logger(lambda record: self.append(record.query))

            def traced_pool(*args: Any, **kwargs: Any) -> Any:
                return create_pool(*args, init=logged, **kwargs)

            monkeypatch.setattr(asyncpg, "create_pool", traced_pool)

    def since(self, mark: int) -> list[str]:
        return self[mark:]


def reads(statements: list[str]) -> tuple[int, int]:
    """(customer reads, suppression checks) among these statements."""
    customers = sum(1 for s in statements if CUSTOMER_READ.search(s))
    suppressions = sum(1 for s in statements if SUPPRESSION_CHECK.search(s))
    return customers, suppressions


def per_claim(statements: list[str]) -> list[list[str]]:
    """The statements from each claim to the next."""
    claims: list[list[str]] = []
    for statement in statements:
        if CLAIM.search(statement):
            claims.append([])
        if claims:
            claims[-1].append(statement)
    return claims


async def queue_due_surveys(loop: Loop, sql: Statements) -> list[str]:
    """Hour by hour until the surveys fall due: the statements of the sweep that queued them."""
    for _ in range(24 * 10):
        loop.clock.advance(timedelta(hours=1))
        mark = len(sql)
        if await loop.scheduler.send_invitations():
            return sql.since(mark)
    raise AssertionError("no survey fell due")


@pytest.mark.parametrize("customers", [1, 12])
async def test_each_step_reads_the_customer_and_checks_suppression_once(
    monkeypatch: pytest.MonkeyPatch,
    loop_config: Config,
    loop_smtp: SmtpServer,
    customers: int,
    store_url: str | None,
) -> None:
    sql = Statements(monkeypatch)
    async with running(loop_config, loop_smtp, store_url) as loop:
        for i in range(customers):
            await loop.event("purchase.completed", f"c{i}@example.com", "2026-03-02T10:00:00Z")

        mark = len(sql)
        assert await loop.scheduler.plan_events() == customers
        assert reads(sql.since(mark)) == (1, 1)  # the plan: cool-down and suppression

        queued = await queue_due_surveys(loop, sql)
        assert reads(queued) == (1, 1)  # due now: the window and suppression, not again
        counts = await loop.services.store.outbox_counts()
        assert counts[State.QUEUED] == customers

        mark = len(sql)
        assert await loop.sender.drain() == customers
        claims = [reads(claim) for claim in per_claim(sql.since(mark))]
        assert claims[0] == (1, 1), claims  # the claim that took them all: one of each
        assert set(claims[1:]) <= {(0, 0)}, claims  # then claims that found nothing
        assert len(loop_smtp.handler.messages) == customers


async def test_a_claim_of_rows_across_several_claims_reads_once_each(
    monkeypatch: pytest.MonkeyPatch,
    loop_config: Config,
    loop_smtp: SmtpServer,
    store_url: str | None,
) -> None:
    """With few slots, the rows come in several claims: each reads once, whatever its size."""
    sql = Statements(monkeypatch)
    async with running(loop_config, loop_smtp, store_url) as loop:
        loop.sender.configure(loop.sender.settings.model_copy(update={"max_in_flight": 3}))
        for i in range(7):
            await loop.event("purchase.completed", f"c{i}@example.com", "2026-03-02T10:00:00Z")
        await loop.scheduler.plan_events()
        await queue_due_surveys(loop, sql)

        mark = len(sql)
        assert await loop.sender.drain() == 7
        claims = [reads(claim) for claim in per_claim(sql.since(mark))]
        assert claims.count((1, 1)) >= 3 and set(claims) <= {(1, 1), (0, 0)}, claims
        assert len(loop_smtp.handler.messages) == 7
