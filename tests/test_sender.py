"""The outbox sender against an in-memory transport: outcomes, retries, suppression, bounds.

The same behaviours over real SMTP (a real aiosmtpd server) are in test_sender_smtp.py.
"""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

from daemon.clock import FakeClock
from daemon.config import Config
from daemon.errors import PermanentDeliveryError, TemporaryDeliveryError
from daemon.mail.outbox import NewEmail, RetryPolicy, State
from daemon.requests_first import Pressure
from daemon.run.metrics import Metrics
from daemon.run.sender import Sender
from daemon.store import SQLiteStore
from daemon.transport import MemoryTransport


async def enqueue(
    store: SQLiteStore, clock: FakeClock, n: int, to: str = "c{i}@example.com"
) -> list[int]:
    ids = []
    for i in range(n):
        row_id = await store.enqueue(
            NewEmail(
                dedupe_key=f"k{i}",
                kind="test",
                recipient=to.format(i=i),
                envelope_from="hello@harborlane.example",
                message_id=f"<m{i}@harborlane.example>",
                message=f"Message-ID: <m{i}@harborlane.example>\r\n\r\nbody {i}\r\n".encode(),
                not_before=clock.now(),
            ),
            clock.now(),
        )
        assert row_id is not None
        ids.append(row_id)
    return ids


def make_sender(
    store: SQLiteStore, transport: MemoryTransport, clock: FakeClock, config: Config
) -> Sender:
    return Sender(store, transport, clock, config.settings.sender, Metrics(), rng=random.Random(7))


async def test_drain_sends_every_due_row_once(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    await enqueue(store, clock, 150)
    transport = MemoryTransport(concurrency=4)
    sender = make_sender(store, transport, clock, config)
    assert await sender.drain() == 150
    assert sorted(s.recipient for s in transport.sent) == sorted(
        f"c{i}@example.com" for i in range(150)
    )
    assert (await store.outbox_counts())[State.SENT] == 150
    assert await sender.drain() == 0  # nothing sent twice


async def test_temporary_failure_is_retried_after_backoff(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    (row_id,) = await enqueue(store, clock, 1)
    transport = MemoryTransport()
    transport.fail_next(
        TemporaryDeliveryError("451 try later", 451), TemporaryDeliveryError("421 busy", 421)
    )
    sender = make_sender(store, transport, clock, config)
    await sender.drain()
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.QUEUED and row.last_error == "451 try later"
    await sender.drain()
    assert transport.sent == []  # not due yet: the backoff holds it
    clock.advance(timedelta(seconds=60))  # first backoff is 30-60 s with base 60
    await sender.drain()
    clock.advance(timedelta(seconds=120))
    await sender.drain()
    assert len(transport.sent) == 1
    row = await store.outbox_row(row_id)
    assert row is not None and (row.state, row.attempts) == (State.SENT, 3)


async def test_permanent_failure_stops_and_suppresses(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    (first,) = await enqueue(store, clock, 1, to="gone@example.com")
    later = await store.enqueue(  # queued before the refusal, due after it
        NewEmail(
            dedupe_key="later",
            kind="test",
            recipient="Gone@Example.com",
            envelope_from="hello@harborlane.example",
            message_id="<later@harborlane.example>",
            message=b"Subject: later\r\n\r\nbody\r\n",
            not_before=clock.now() + timedelta(days=1),
        ),
        clock.now(),
    )
    transport = MemoryTransport()
    transport.fail_next(PermanentDeliveryError("550 no such user", 550))
    sender = make_sender(store, transport, clock, config)
    await sender.drain()
    row = await store.outbox_row(first)
    assert row is not None and (row.state, row.last_error) == (State.FAILED, "550 no such user")
    assert await store.suppressed(["gone@example.com"]) == {"gone@example.com"}
    clock.advance(timedelta(days=1))
    await sender.drain()
    assert later is not None
    row = await store.outbox_row(later)
    assert row is not None and row.state is State.SUPPRESSED
    assert transport.sent == []  # nothing ever went to the refused address


async def test_gives_up_after_max_attempts_without_suppressing(
    store: SQLiteStore, clock: FakeClock, make_config: object
) -> None:
    config = make_config({"sender": {"max_attempts": 2}})  # type: ignore[operator]
    (row_id,) = await enqueue(store, clock, 1)
    transport = MemoryTransport()
    transport.fail_next(*(TemporaryDeliveryError("timed out") for _ in range(5)))
    sender = make_sender(store, transport, clock, config)
    for _ in range(4):
        await sender.drain()
        clock.advance(timedelta(hours=2))
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.FAILED and row.attempts == 2
    assert row.last_error == "gave up after 2 attempts: timed out"
    assert await store.suppressed(["c0@example.com"]) == set()


async def test_unexpected_error_keeps_the_row(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    (row_id,) = await enqueue(store, clock, 1)
    transport = MemoryTransport()
    transport.fail_next(RuntimeError("boom"))
    sender = make_sender(store, transport, clock, config)
    await sender.drain()
    row = await store.outbox_row(row_id)
    assert row is not None and row.state is State.QUEUED and "boom" in (row.last_error or "")


class GatedTransport(MemoryTransport):
    """Holds every send until released, to observe what is in flight."""

    def __init__(self) -> None:
        super().__init__(concurrency=8)
        self.gate = asyncio.Event()
        self.full = asyncio.Event()  # every slot holds a waiting send
        self.waiting = 0

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        self.waiting += 1
        if self.waiting == self.concurrency:
            self.full.set()
        await self.gate.wait()
        return await super().send(envelope_from, recipient, message, key=key)


class CountingTransport(MemoryTransport):
    """Says when it has sent `until` messages."""

    def __init__(self, until: int) -> None:
        super().__init__()
        self.until = until
        self.reached = asyncio.Event()

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        reply = await super().send(envelope_from, recipient, message, key=key)
        if len(self.sent) >= self.until:
            self.reached.set()
        return reply


async def test_leases_never_exceed_max_in_flight(
    store: SQLiteStore, clock: FakeClock, make_config: object
) -> None:
    config = make_config({"sender": {"max_in_flight": 10}})  # type: ignore[operator]
    await enqueue(store, clock, 40)
    transport = GatedTransport()
    sender = make_sender(store, transport, clock, config)
    draining = asyncio.create_task(sender.drain())
    await asyncio.wait_for(transport.full.wait(), timeout=10)
    counts = await store.outbox_counts()
    assert counts[State.SENDING] == 10
    assert transport.waiting == 8  # the transport's concurrency bounds the sends themselves
    transport.gate.set()
    assert await draining == 40
    assert len(transport.sent) == 40


async def test_run_stops_cleanly_and_releases_unsent_rows(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    await enqueue(store, clock, 20)
    transport = GatedTransport()
    sender = make_sender(store, transport, clock, config)
    running = asyncio.create_task(sender.run(grace_seconds=0.05))
    await asyncio.wait_for(transport.full.wait(), timeout=10)
    assert (await store.outbox_counts())[State.SENDING] == 20
    sender.stop()
    await running  # the gate never opens: the grace period ends and the sends are released
    counts = await store.outbox_counts()
    assert counts[State.QUEUED] == 20 and counts[State.SENDING] == 0


async def test_run_restores_leases_from_before_a_crash(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    await enqueue(store, clock, 5)
    await store.claim(
        config.settings.sender.instance, clock.now(), 300, 5
    )  # a crashed run's leases
    transport = CountingTransport(until=5)
    sender = make_sender(store, transport, clock, config)
    running = asyncio.create_task(sender.run())
    await asyncio.wait_for(transport.reached.wait(), timeout=10)
    sender.stop()
    await running
    assert (await store.outbox_counts())[State.SENT] == 5


def test_backoff_grows_and_stops() -> None:
    policy = RetryPolicy(max_attempts=5, base_seconds=30, max_seconds=100)
    rng = random.Random(1)
    clock = FakeClock()
    delays = []
    for attempts in range(1, 5):
        at = policy.next_try(attempts, clock.now(), rng)
        assert at is not None
        delays.append((at - clock.now()).total_seconds())
    assert 15 <= delays[0] <= 30 and 30 <= delays[1] <= 60 and 50 <= delays[3] <= 100
    assert policy.next_try(5, clock.now(), rng) is None


async def test_sending_waits_while_a_request_is_being_served(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    """The sender claims, then gives way (daemon/requests_first.py): nothing goes out until the
    request being served ends (the bound, 60 s here, is never reached)."""
    await enqueue(store, clock, 3)
    transport = MemoryTransport(concurrency=4)
    pressure = Pressure(most_seconds=60)
    sender = Sender(store, transport, clock, config.settings.sender, Metrics(), pressure=pressure)
    with pressure.request():
        draining = asyncio.create_task(sender.drain())
        for _ in range(400):  # the claim is made in the database's thread
            if (await store.outbox_counts())[State.SENDING] == 3:
                break
            await asyncio.sleep(0.005)
        for _ in range(20):
            await asyncio.sleep(0)
        assert (await store.outbox_counts())[State.SENDING] == 3
        assert transport.sent == []
    assert await draining == 3
    assert len(transport.sent) == 3


async def test_a_row_forgotten_while_it_is_being_sent_stays_forgotten(
    store: SQLiteStore, clock: FakeClock, config: Config
) -> None:
    """`vouch forget` lands during the SMTP transaction: the settlement that follows does not
    bring the row back (state, address and bytes stay as forget left them)."""
    await enqueue(store, clock, 1, to="ann@example.com")

    class ForgetDuringTheSend(MemoryTransport):
        async def send(
            self, envelope_from: str, recipient: str, message: bytes, *, key: str
        ) -> str:
            await store.forget(recipient, clock.now())
            return await super().send(envelope_from, recipient, message, key=key)

    transport = ForgetDuringTheSend()
    assert await make_sender(store, transport, clock, config).drain() == 1
    counts = await store.outbox_counts()
    assert (counts[State.SENT], counts[State.SUPPRESSED]) == (0, 1)
    row = await store.outbox_row(1)
    assert row is not None and row.message == b"" and "ann@" not in row.recipient
