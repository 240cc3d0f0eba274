"""Several processes on one store: the scheduler lease (one plans at a time, on both stores),
its takeover when the holder stops or dies (a fake clock travels past its end), and `vouch run
--role web` beside two `--role worker` processes as real processes, one of them killed mid-drain:
every email arrives, duplicates no more than the killed worker's in-flight rows. At the issue's
scale, on PostgreSQL only: the web and three workers, 3,000 emails, the lease's holder and
another worker killed."""

from __future__ import annotations

import asyncio
import collections
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from postgres import fresh_database, fresh_database_sync
from test_daemon import fill_outbox, outbox_counts

from daemon.cli import main
from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.mail.outbox import State
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.runtime import Daemon
from daemon.run.scheduler import LEASE, Scheduler
from daemon.run.services import Services, open_store
from daemon.store import SQLiteStore
from daemon.store.leases import Leases
from daemon.store.postgres import PostgresStore

from daemon_process import DaemonProcess
from helpers import ENV, TOKEN, write_business
from smtp_server import ThreadedSmtpServer

T0 = FakeClock().now()


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_processes(
    request: pytest.FixtureRequest, config: Config
) -> AsyncIterator[tuple[Leases, Leases]]:
    """The lease concern as two processes see it: two connections (pools) to one store."""
    if request.param == "sqlite":
        first = await SQLiteStore.open(config.store_path)
        second = await SQLiteStore.open(config.store_path)
        yield first, second
        await first.close()
        await second.close()
        return
    async with fresh_database() as url:
        one, other = await PostgresStore.open(url), await PostgresStore.open(url)
        yield one, other
        await one.close()
        await other.close()


async def test_one_holder_at_a_time_until_its_time_runs_out(
    two_processes: tuple[Leases, Leases],
) -> None:
    a, b = two_processes
    assert await a.hold("scheduler", "a", T0, 30)
    assert not await b.hold("scheduler", "b", T0 + timedelta(seconds=5), 30)
    assert await a.hold("scheduler", "a", T0 + timedelta(seconds=20), 30)  # renewed to 50 s
    assert not await b.hold("scheduler", "b", T0 + timedelta(seconds=49), 30)
    assert await b.hold("scheduler", "b", T0 + timedelta(seconds=50), 30)  # a died: b takes it
    assert not await a.hold("scheduler", "a", T0 + timedelta(seconds=51), 30)
    await a.release("scheduler", "a")  # not a's to give: nothing changes
    assert not await a.hold("scheduler", "a", T0 + timedelta(seconds=52), 30)
    await b.release("scheduler", "b")
    assert await a.hold("scheduler", "a", T0 + timedelta(seconds=53), 30)  # at once
    assert await b.hold("other job", "b", T0 + timedelta(seconds=53), 30)  # one lease a name


async def test_asked_at_once_exactly_one_gets_it(two_processes: tuple[Leases, Leases]) -> None:
    a, b = two_processes
    asks = [(store, f"process-{n}-{side}") for n in range(20) for side, store in enumerate((a, b))]
    won = await asyncio.gather(*(store.hold("scheduler", name, T0, 30) for store, name in asks))
    assert won.count(True) == 1


@pytest.fixture
async def schedulers(config: Config) -> AsyncIterator[Callable[[str], Awaitable[Scheduler]]]:
    """Schedulers of separate processes on one fake clock, each on its own connection to one
    store file, watched by their health as `vouch run` watches them."""
    clock = FakeClock()
    opened: list[SQLiteStore] = []

    async def make(holder: str) -> Scheduler:
        store = await SQLiteStore.open(config.store_path)
        opened.append(store)
        services = Services(config, Renderer(config, clock), store, clock, Metrics())
        services.health.watch("scheduler", clock.now())
        return Scheduler(services, holder=holder)

    yield make
    for store in opened:
        await store.close()


async def test_a_standby_scheduler_takes_over_when_the_holder_dies_or_stops(
    schedulers: Callable[[str], Awaitable[Scheduler]],
) -> None:
    first, second = await schedulers("worker-1"), await schedulers("worker-2")
    clock = first.services.clock
    assert isinstance(clock, FakeClock)
    assert await first.lead() and not await second.lead()
    lease = first.services.config.settings.sender.planner_lease_seconds  # 30 by default
    clock.advance(timedelta(seconds=lease - 1))  # first is silent (dead): not yet
    health = second.services.health
    assert (await health.check(second.services.store, clock.now())).healthy  # standing by
    assert not await second.lead()
    clock.advance(timedelta(seconds=1))
    assert await second.lead() and not await first.lead()

    # a clean stop gives the lease up at once
    second.stop()
    await second.run()
    assert not second.leading
    assert await first.lead()
    assert not await second.services.store.hold(LEASE, "worker-2", clock.now(), 1)


async def planned(config_path: Path, event_id: str) -> bool:
    """Whether a worker has planned the event (it has left the unprocessed ones), within 30 s."""
    store = await open_store(load_config(config_path, ENV))
    try:
        for _ in range(300):
            if event_id not in {e.id for e in await store.unprocessed_events(100)}:
                return True
            await asyncio.sleep(0.1)
        return False
    finally:
        await store.close()


LEASE_SECONDS = 10  # a killed worker's rows, and the planning it held, move on after this


def shared_business(
    folder: Path, sink: ThreadedSmtpServer, in_flight: int, store: dict[str, Any]
) -> Path:
    """The business the processes of a test share: sending to `sink`, its store `store`
    (shared_store's [store] table), leases of LEASE_SECONDS."""
    return write_business(
        folder,
        {
            "email": {
                "transport": "smtp",
                "smtp": {"host": sink.host, "port": sink.port, "security": "none"},
            },
            "sender": {
                "max_in_flight": in_flight,
                "lease_seconds": LEASE_SECONDS,
                "planner_lease_seconds": LEASE_SECONDS,
            },
            **store,
        },
    )


def post_purchase(web: DaemonProcess, event_id: str) -> None:
    """Ann's purchase, taken by the web process (202); a worker's scheduler plans it."""
    event = {
        "id": event_id,
        "type": "purchase.completed",
        "occurred_at": "2026-03-02T10:00:00Z",
        "customer": {"email": "ann@example.com"},
    }
    with httpx.Client(base_url=web.url) as client:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert client.post("/v1/events", json=event, headers=auth).status_code == 202


@pytest.mark.slow
def test_web_and_two_workers_share_the_store_and_a_killed_worker_loses_nothing(
    tmp_path: Path, shared_store: dict[str, Any]
) -> None:
    emails, in_flight = 1500, 16
    with ThreadedSmtpServer() as sink:
        path = shared_business(tmp_path, sink, in_flight, shared_store)
        expected = set(asyncio.run(fill_outbox(path, emails)))
        web = DaemonProcess(path, args=("--role", "web"))
        workers = [
            DaemonProcess(path, args=("--role", "worker", "--instance", f"worker-{n}"))
            for n in (1, 2)
        ]
        try:
            web.start()
            web.wait_for(r"role web: HTTP only")
            for worker in workers:
                worker.start(ready=r"role worker: scheduling and sending")
            sink.wait_for_messages(emails // 3, timeout=60)
            workers[0].kill()  # SIGKILL mid-drain: its leased rows come back after 10 s

            # the web process takes an event; a worker's scheduler plans it at its next poll
            post_purchase(web, "roles-1")
            with httpx.Client(base_url=web.url) as client:
                assert client.get("/healthz").json()["status"] == "ok"
            sink.wait_for_ids(expected, timeout=120)
            workers[1].wait_for(r"scheduler: worker-2 plans now", timeout=60)  # took over
            assert asyncio.run(planned(path, "roles-1"))  # the web's event, planned by a worker
            for process in (web, workers[1]):
                process.signal(signal.SIGTERM)
                assert process.wait() == 0
        finally:
            for process in (web, *workers):
                process.kill()
        received = [m.message()["Message-ID"] for m in sink.handler.messages]
    counts = collections.Counter(received)
    assert expected <= set(counts), "every email arrived"
    duplicates = sum(n - 1 for n in counts.values())
    assert duplicates <= in_flight, f"{duplicates} duplicates after one kill"
    assert asyncio.run(outbox_counts(path))[State.SENT] == emails
    assert not any("Traceback" in line for line in web.lines + workers[1].lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "cook"], "invalid choice: 'cook'"),
        (["--role", "worker", "--instance", "worker 1"], "no spaces"),
        (["--instance", "x" * 65], "1-64 printable"),
    ],
)
def test_run_refuses_a_bad_role_or_instance(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["run", *args])
    assert stopped.value.code == 2
    assert message in capsys.readouterr().err


async def test_a_notice_of_work_wakes_the_listening_processes(
    two_processes: tuple[Any, Any],
) -> None:
    """PostgreSQL carries it to every listener (LISTEN/NOTIFY); SQLite's processes poll, so a
    notice there is accepted and goes nowhere."""
    worker, web = two_processes
    heard = asyncio.Event()
    await worker.listen_for_work(heard.set)
    await web.notify_work()
    if isinstance(worker, SQLiteStore):
        assert not heard.is_set()
        return
    async with asyncio.timeout(30):  # a guard against hanging, not a measure of speed
        await heard.wait()
    heard.clear()
    await worker.notify_work()  # its own notice too: the web process may also be a listener
    async with asyncio.timeout(30):
        await heard.wait()


async def test_a_burst_of_work_is_told_to_the_workers_in_two_notices(config: Config) -> None:
    """A web process nudged for each of 100 events sends one notice at once and one more for
    the 99 that came after it (not 100, each waking every worker); work after a quiet spell
    is told at once."""
    async with fresh_database(migrated=True) as url:
        web, worker = await PostgresStore.open(url), await PostgresStore.open(url)
        heard = asyncio.Event()
        count = 0

        def hear() -> None:
            nonlocal count
            count += 1
            heard.set()

        async def told(expected: int) -> None:
            """Wait for the worker's own marker notice: PostgreSQL delivers in commit order, so
            every earlier notice has arrived by then."""
            while daemon._notice is not None:
                await asyncio.shield(daemon._notice)
            await worker.notify_work()
            async with asyncio.timeout(30):  # a guard against hanging, not a measure of speed
                while count < expected:
                    await heard.wait()
                    heard.clear()
            assert count == expected

        try:
            await worker.listen_for_work(hear)
            clock = FakeClock()
            daemon = Daemon(config.path, ENV, clock, role="web")
            daemon.services = Services(config, Renderer(config, clock), web, clock, Metrics())
            daemon._notify_workers()
            async with asyncio.timeout(30):
                await heard.wait()  # told at once; the next within the gap wait for its end
            for _ in range(99):
                daemon._notify_workers()
            await told(2 + 1)  # the two notices, and the marker
            daemon._notify_workers()  # after a quiet spell
            await told(3 + 1 + 1)
        finally:
            await web.close()
            await worker.close()


def pg_rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """What the processes wrote, read with a connection of the test's own (asyncpg), never
    through the store's internals."""
    import asyncpg

    async def read() -> list[tuple[Any, ...]]:
        connection = await asyncpg.connect(url)
        try:
            return [tuple(r) for r in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    return asyncio.run(read())


@pytest.mark.slow
def test_web_and_three_workers_on_postgresql_lose_nothing_when_two_are_killed(
    tmp_path: Path,
) -> None:
    """Issue 16 item 4 at its scale: the web process and three workers on PostgreSQL, 3,000
    emails queued; the scheduler lease's holder (found in the store) is SIGKILLed early in the
    drain and another worker midway. Every email arrives; each duplicate is one of the rows the
    killed workers held leased when they died; the web's event is planned by the worker that
    took the lease over; after the drain no row is left leased."""
    emails, in_flight = 3000, 16
    with fresh_database_sync() as url, ThreadedSmtpServer() as sink:
        path = shared_business(tmp_path, sink, in_flight, {"store": {"url": url}})
        web = DaemonProcess(path, args=("--role", "web"))
        web.start()  # it brings the new database to this version's schema
        names = [f"worker-{n}" for n in (1, 2, 3)]
        workers = {
            name: DaemonProcess(path, args=("--role", "worker", "--instance", name))
            for name in names
        }
        held_when_killed: dict[str, set[str]] = {}

        def kill(name: str) -> None:
            """SIGKILL; then what it held leased as it died: what it may have sent unrecorded."""
            workers[name].kill()
            held_when_killed[name] = {
                r[0]
                for r in pg_rows(
                    url,
                    "SELECT message_id FROM outbox WHERE state = 'sending' AND lease_owner = $1",
                    name,
                )
            }

        try:
            for worker in workers.values():
                worker.start(ready=r"role worker: scheduling and sending")
            expected = set(asyncio.run(fill_outbox(path, emails)))  # all three are sending
            sink.wait_for_messages(emails // 10, timeout=60)
            [(holder,)] = pg_rows(url, "SELECT holder FROM leases WHERE name = $1", LEASE)
            assert holder in names
            kill(holder)  # the planner dies: another worker takes the lease when it runs out

            post_purchase(web, "roles-scale-1")

            sink.wait_for_messages(emails // 2, timeout=60)
            second = next(n for n in names if n != holder)
            kill(second)  # a sender dies mid-drain
            survivor = next(n for n in names if n not in held_when_killed)

            sink.wait_for_ids(expected, timeout=120)
            workers[survivor].wait_for(rf"scheduler: {survivor} plans now", timeout=60)
            assert asyncio.run(planned(path, "roles-scale-1"))  # by the new holder
            for process in (web, workers[survivor]):
                process.signal(signal.SIGTERM)
                assert process.wait() == 0
        finally:
            for process in (web, *workers.values()):
                process.kill()
        received = [m.message()["Message-ID"] for m in sink.handler.messages]
        counts = collections.Counter(received)
        assert expected <= set(counts), "every email arrived"
        doubled = {message_id for message_id, n in counts.items() if n > 1}
        leased = set().union(*held_when_killed.values())
        assert leased, "the kills came mid-drain: a killed worker held rows in flight"
        assert doubled <= leased, f"sent twice but not in flight at a kill: {doubled - leased}"
        assert all(counts[m] == 2 for m in doubled)  # each at most once more
        assert len(doubled) <= 2 * in_flight
        # after the drain: every row sent, and none left leased (nor past its lease's end)
        assert dict(pg_rows(url, "SELECT state, count(*) FROM outbox GROUP BY state")) == {
            "sent": emails
        }
        stuck = "SELECT id FROM outbox WHERE state = 'sending' AND due_at <= now()"
        assert pg_rows(url, stuck) == []
        assert not any("Traceback" in line for line in web.lines + workers[survivor].lines)
