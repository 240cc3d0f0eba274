"""Outbox sender throughput against its ceiling, both measured in the same run.

    .venv/bin/python bench/send.py [--emails 10000] [--connections 8] [--runs 3]
        [--kind test|survey] [--store sqlite|postgresql://...] [--workers 1,2] [--baseline]

The full run of issue 16 (10,000 surveys rendered at claim, drained by one and by two worker
processes on PostgreSQL and by one `vouch run` on SQLite, against the ceiling; about 4 minutes):

    .venv/bin/python bench/send.py --kind survey --runs 3 \
        --store postgresql://vouch@127.0.0.1:54329/postgres --workers 1,2 --baseline

What is measured, each `--runs` times (the median is reported):

- ceiling: one pre-rendered message (the same bytes every time) sent N times with aiosmtplib
  `sendmail` over C reused connections; no database, no outbox. This is what the SMTP client and
  the sink can do on this machine.
- sender: the daemon's outbox path. N emails of the `test` kind are rendered with the real
  Renderer (each its own recipient and Message-ID, through `daemon.mail.compose.build_email` and
  `enqueue`) into a fresh SQLite store once, before any timing; each run works on its own copy
  of that file.
  The timed part is `Sender.drain()` with an `SmtpTransport` of C connections and no rate limit,
  from the first claim to the last settled row (connection set-up included, as for the ceiling).

The sink is an aiosmtpd server in another process (its own core): it accepts everything, answers
250 to DATA and counts messages in shared memory, so the bench checks that every email arrived.
Both client sides run on uvloop, as `vouch run` does. Exit status 1 when any email is missing.

The emails. `--kind test` (the default, as before): `test` emails rendered before any timing.
`--kind survey`: N `purchase.completed` events, each a new customer, accepted as the API
accepts them and planned and queued by the real scheduler (a survey with `delay_days = 0` and
an all-week send window) before any timing: the outbox then holds N survey rows unrendered, and
the sender renders each when it claims it (`survey_email.render_claimed`: the invitations,
customers and job details of a claim, then a stamp each), as in real use. The ceiling then
sends one rendered survey email.

Processes (bench/roles.py). `--store` puts the emails in a PostgreSQL database (a fresh
template database made once; each run drains its own copy, CREATE DATABASE ... TEMPLATE) and
`--workers 1,2` adds, per count M, M `vouch run --role worker` processes draining a copy, each
with its own `--connections` SMTP connections; `--baseline` adds one `vouch run` (role all) on a
copy of the same emails in a SQLite file. Each copy's rows are held back (due far ahead) while
its processes start; once every one is ready, one UPDATE makes them due 2 s later (the senders'
poll sees the time and wakes then, so the start is no poll's luck), and the drain is timed from
that moment to the sink's N-th email. The in-process drain (`sender`) runs on `--store` too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import tomli_w
import uvloop
from aiosmtplib import SMTP

sys.path.insert(0, str(Path(__file__).resolve().parent))
import roles

from daemon.clock import SystemClock
from daemon.config import Config, Smtp, load_config
from daemon.intake.accept import accept_event
from daemon.intake.events import CustomerIn, EventIn
from daemon.mail.compose import build_email, enqueue
from daemon.mail.outbox import State
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.scheduler import Scheduler
from daemon.run.sender import Sender
from daemon.run.services import Services, open_store
from daemon.surveys.survey_email import render_claimed
from daemon.transport import SmtpTransport

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TOKEN = "bench-token-0123456789abcdef"  # only to satisfy config loading; nothing serves here
ENV = {"VOUCH_API_TOKEN": TOKEN, "VOUCH_SECRET_KEY": TOKEN}
HELD = datetime(2100, 1, 1, tzinfo=UTC)  # the rows' due time while processes start


# The sink: another process, aiosmtpd on uvloop ------------------------------------------------


class CountingHandler:
    """aiosmtpd handler: take every message, count it, say 250."""

    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.counter.value += 1  # one writer (this process); the bench only reads
        return "250 OK"


def run_sink(counter: Any, port_out: multiprocessing.connection.Connection) -> None:
    """Entry point of the sink process: serve on a free port, report the port, run forever."""
    from aiosmtpd.smtp import SMTP as SmtpServer  # the sink's own import, in its own process

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = CountingHandler(counter)
        # A fixed hostname: aiosmtpd would otherwise look up the FQDN for every connection.
        server = await loop.create_server(
            lambda: SmtpServer(handler, hostname="sink.bench", ident="bench sink"), HOST, 0
        )
        port_out.send(server.sockets[0].getsockname()[1])
        port_out.close()
        await server.serve_forever()

    uvloop.run(serve())


class Sink:
    """Start/stop the sink process; `received` reads its message counter."""

    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._counter = ctx.Value("q", 0, lock=False)
        parent, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=run_sink, args=(self._counter, child), daemon=True)
        self._process.start()
        child.close()
        if not parent.poll(30):
            self._process.kill()
            raise RuntimeError("the SMTP sink did not start within 30 s")
        self.port: int = parent.recv()

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    @property
    def received(self) -> int:
        return int(self._counter.value)

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()


# The business the emails come from --------------------------------------------------------


def write_business(
    root: Path, store: dict[str, Any], smtp_port: int = 0, connections: int = 8
) -> Config:
    """A business folder (config.toml, a copy of the repo's email templates, one survey due at once,
    sent any day), its store and its SMTP relay (the sink; port 0: none used)."""
    if not (root / "templates").exists():
        shutil.copytree(REPO / "templates" / "email", root / "templates" / "email")
        (root / "surveys").mkdir()
        (root / "surveys" / "purchase.toml").write_text(roles.SURVEY)
    config: dict[str, Any] = {
        "business": {
            "name": "Harbor Lane Renovations",
            "email": "hello@harborlane.example",
            "reply_to": "team@harborlane.example",
            "owner_email": "owner@harborlane.example",
            "timezone": "Europe/London",
            "public_url": "http://vouch.test",
        },
        "server": {"host": HOST, "port": 0},
        "store": store,
        "send_window": {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "23:59",
        },
    }
    if smtp_port:
        config["email"] = {
            "transport": "smtp",
            "smtp": {
                "host": HOST,
                "port": smtp_port,
                "security": "none",
                "connections": connections,
                "rate_per_minute": 0,
            },
        }
    name = f"config-{abs(hash(str(store))) % 10**8}.toml"
    path = root / name
    path.write_text(tomli_w.dumps(config))
    return load_config(path, ENV, need_secrets=True)


async def prepare_store(config: Config, emails: int, kind: str) -> bytes:
    """Put N emails into the config's (empty) store, held back; return one rendered message."""
    clock = SystemClock()
    store = await open_store(config)
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    try:
        if kind == "test":
            for i in range(emails):
                to = f"customer{i}@example.com"
                await enqueue(
                    services,
                    build_email(
                        services,
                        kind="test",
                        context={"recipient": to, "sent_at": clock.now()},
                        to_email=to,
                        to_name=f"Customer {i}",
                        dedupe_key=f"bench:{i}",
                    ),
                )
        else:
            await queue_surveys(services, emails)
        first = await store.outbox_row(1)
        assert first is not None
        message = first.message
        if not message:  # a survey row: rendered at claim; render the first for the ceiling
            rendered = (await render_claimed(services, [first]))[first.id]
            assert isinstance(rendered, bytes), rendered
            message = rendered
        counts = await store.outbox_counts()
        assert counts[State.QUEUED] == emails, counts
    finally:
        await store.close()  # SQLite: checkpoints the WAL, so the file alone is the whole store
    await due(config, HELD)
    return message


async def queue_surveys(services: Services, emails: int) -> None:
    """N events accepted as the API accepts them, then planned and queued by the scheduler."""
    now = services.clock.now()
    for i in range(emails):
        await accept_event(
            services,
            EventIn(
                id=f"bench-{i}",
                type="purchase.completed",
                occurred_at=now,
                customer=CustomerIn(email=f"customer{i}@example.com", name=f"Customer {i}"),
                data={"title": "Kitchen refit", "amount": "149.00"},
            ),
        )
    scheduler = Scheduler(services)
    for _ in range(10 * emails // 500 + 20):  # bounded: 500 events and 2,000 surveys a tick
        await scheduler.tick()
        if (await services.store.outbox_counts())[State.QUEUED] >= emails:
            return
    raise RuntimeError("the scheduler did not queue every survey")


async def due(config: Config, when: datetime) -> None:
    """Make every queued row due at `when` (held back far ahead, or released)."""
    url = config.settings.store.url
    if url:
        import asyncpg

        connection = await asyncpg.connect(url)
        try:
            await connection.execute("UPDATE outbox SET due_at = $1 WHERE state = 'queued'", when)
        finally:
            await connection.close()
        return
    with contextlib.closing(sqlite3.connect(config.store_path)) as db, db:
        ms = int(when.timestamp() * 1000)
        db.execute("UPDATE outbox SET due_at = ? WHERE state = 'queued'", (ms,))


class Copies:
    """Fresh copies of the master store: files beside it, or databases from it as a template."""

    def __init__(self, master: Config, workdir: Path, server: str = roles.SQLITE) -> None:
        self.master = master
        self.server = server
        self.workdir = workdir
        self.made = 0

    @contextlib.contextmanager
    def copy(self) -> Iterator[dict[str, Any]]:
        self.made += 1
        url = self.master.settings.store.url
        if url:
            with roles.fresh_database(self.server, template=roles.database_of(url)) as copy:
                yield {"url": copy}
            return
        path = self.workdir / f"copy{self.made}.sqlite3"
        shutil.copyfile(self.master.store_path, path)
        try:
            yield {"path": path.name}
        finally:
            for leftover in self.workdir.glob(f"{path.name}*"):
                leftover.unlink()


# (a) the ceiling ----------------------------------------------------------------------------


async def ceiling(port: int, message: bytes, emails: int, connections: int) -> float:
    """Send `emails` copies of `message` over `connections` reused connections; seconds taken."""
    remaining = emails

    async def worker() -> None:
        nonlocal remaining
        smtp = SMTP(hostname=HOST, port=port, local_hostname="bench.local", timeout=30)
        await smtp.connect()
        try:
            while remaining > 0:  # bounded: each pass takes one of `emails`
                remaining -= 1
                await smtp.sendmail("hello@harborlane.example", ["sam@example.com"], message)
        finally:
            await smtp.quit()

    started = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        for _ in range(connections):
            tasks.create_task(worker())
    return time.perf_counter() - started


# (b) the outbox sender, in this process -----------------------------------------------------


async def outbox_sender(
    copies: Copies, workdir: Path, port: int, connections: int
) -> tuple[float, int]:
    """Drain a fresh copy of the master store through the real Sender; (seconds, rows sent)."""
    with copies.copy() as table:
        config = write_business(workdir, table)
        clock = SystemClock()
        store = await open_store(config)
        services = Services(config, Renderer(config, clock), store, clock, Metrics())
        smtp = Smtp(
            host=HOST, port=port, security="none", connections=connections, rate_per_minute=0
        )
        transport = SmtpTransport(smtp, None, clock, base_dir=workdir)
        sender = Sender(
            store,
            transport,
            clock,
            config.settings.sender,
            Metrics(),
            render=partial(render_claimed, services),
        )
        try:
            await due(config, clock.now())
            started = time.perf_counter()
            await sender.drain()
            elapsed = time.perf_counter() - started
            counts = await store.outbox_counts()
        finally:
            await transport.aclose()
            await store.close()
    return elapsed, counts[State.SENT]


# (c) `vouch run` processes ------------------------------------------------------------------


async def processes(
    copies: Copies,
    workdir: Path,
    sink: Sink,
    args: argparse.Namespace,
    workers: int,
    sqlite_copies: Copies | None = None,
) -> tuple[float, int]:
    """Drain a fresh copy with `workers` worker processes (0: one `vouch run`, role all, on
    the SQLite copy); seconds from the rows' release to the sink's last email, and rows sent."""
    source = sqlite_copies if workers == 0 and sqlite_copies is not None else copies
    with source.copy() as table:
        config = write_business(workdir, table, sink.port, args.connections)
        assert config.path is not None
        layout = roles.start(config.path, ENV, 0, workers)  # workers alone, or one role all
        try:
            target = sink.received + args.emails
            release = datetime.now(UTC) + timedelta(seconds=2)
            await due(config, release)
            names = {" ".join(p.args[:2]) or "vouch run": p.pid for p in layout.processes}
            if workers:
                names = {f"worker {n}": p.pid for n, p in enumerate(layout.workers, 1)}
            meter = roles.CpuMeter({**names, "sink": sink.pid}, table.get("url"))
            await meter.start()
            await asyncio.sleep(max(0.0, (release - datetime.now(UTC)).total_seconds()))
            started = time.perf_counter()
            deadline = started + args.timeout
            while sink.received < target and time.perf_counter() < deadline:  # noqa: ASYNC110
                await asyncio.sleep(0.01)  # the sink's counter is in shared memory: polled
            elapsed = time.perf_counter() - started
            used = await meter.stop()
            print(
                "    CPU ms an email: "
                + ", ".join(f"{k} {v / args.emails * 1000:.2f}" for k, v in used.items()),
                flush=True,
            )
        finally:
            layout.stop()
        store = await open_store(config)
        try:
            sent = (await store.outbox_counts())[State.SENT]
        finally:
            await store.close()
    return elapsed, sent


# the run ------------------------------------------------------------------------------------


@contextlib.contextmanager
def master_store(store: str, workdir: Path, name: str) -> Iterator[dict[str, Any]]:
    if store == roles.SQLITE:
        yield {"path": f"{name}.sqlite3"}
        return
    with roles.fresh_database(store) as url:
        yield {"url": url}


async def bench(
    args: argparse.Namespace, sink: Sink, workdir: Path, master: Config, base: Config | None
) -> int:
    started = time.perf_counter()
    message = await prepare_store(master, args.emails, args.kind)
    if base is not None:
        await prepare_store(base, args.emails, args.kind)
    print(
        f"prepared {args.emails} {args.kind} emails ({args.store}"
        f"{' and sqlite' if base is not None else ''}) in {time.perf_counter() - started:.1f} s "
        f"(one message: {len(message)} bytes); sink on {HOST}:{sink.port}, "
        f"{args.connections} connections a process, {args.runs} run(s) each; "
        f"{roles.load_line('start')}",
        flush=True,
    )
    copies = Copies(master, workdir, args.store)
    sqlite_copies = Copies(base, workdir) if base is not None else None
    engine = "SQLite" if args.store == roles.SQLITE else "PostgreSQL"

    problems: list[str] = []
    names = ["ceiling", "sender"]
    names += [f"{m} worker{'s' if m > 1 else ''}" for m in args.workers]
    if base is not None:
        names.append("SQLite, one vouch run")
    rates: dict[str, list[float]] = {name: [] for name in names}

    async def measure(
        name: str, send: Callable[[], Coroutine[Any, Any, tuple[float, int]]]
    ) -> None:
        before = sink.received
        seconds, confirmed = await send()
        arrived = sink.received - before  # the sink counts before it says 250: nothing in flight
        rate = args.emails / seconds
        rates[name].append(rate)
        print(f"  {name:22} {rate:8.0f} emails/s  ({seconds:.2f} s, {arrived} arrived)", flush=True)
        if arrived < args.emails or confirmed != args.emails:
            problems.append(f"{name}: {arrived} arrived, {confirmed} confirmed of {args.emails}")

    async def send_ceiling() -> tuple[float, int]:
        seconds = await ceiling(sink.port, message, args.emails, args.connections)
        return seconds, args.emails

    def sender(name: str) -> Callable[[], Coroutine[Any, Any, tuple[float, int]]]:
        if name == "ceiling":
            return send_ceiling
        if name == "sender":
            return lambda: outbox_sender(copies, workdir, sink.port, args.connections)
        workers = 0 if name.startswith("SQLite") else int(name.split()[0])
        return lambda: processes(copies, workdir, sink, args, workers, sqlite_copies)

    for run in range(args.runs):
        # Alternate the order so neither side always runs on a warmer (or hotter) machine.
        for name in names if run % 2 == 0 else names[::-1]:
            await measure(name, sender(name))

    top = statistics.median(rates["ceiling"])
    print()
    print(f"{'what (' + engine + ')':<44} {'emails/s (median)':>18} {'of ceiling':>11}")
    labels = {
        "ceiling": "(a) ceiling: aiosmtplib sendmail, no db",
        "sender": "(b) outbox Sender.drain, in this process",
    }
    for name in names:
        ours = statistics.median(rates[name])
        label = labels.get(name, f"(c) {name}" + (" (role worker)" if "worker" in name else ""))
        print(f"{label:<44} {ours:>18,.0f} {ours / top:>11.0%}")
    if base is not None:
        one = statistics.median(rates["SQLite, one vouch run"])
        print()
        for name in names[2:-1]:
            ours = statistics.median(rates[name])
            print(f"{engine} {name} / SQLite one process: {ours / one:.2f}")
    print("(sender target >= 70% of the ceiling)")
    print(roles.load_line("end"))
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--emails", type=int, default=10_000, help="emails per run (10000)")
    parser.add_argument("--connections", type=int, default=8, help="SMTP connections (8)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; median shown (3)")
    parser.add_argument("--kind", choices=("test", "survey"), default="test")
    parser.add_argument("--store", default=roles.SQLITE, help="sqlite or a PostgreSQL URL")
    parser.add_argument(
        "--workers",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[],
        help="worker process counts to drain with, e.g. 1,2 (none)",
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also one vouch run on SQLite, compared"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="a drain's limit (300 s)")
    args = parser.parse_args()
    args.web = 0
    if args.emails < 1 or not 1 <= args.connections <= 64 or args.runs < 1:
        parser.error("need --emails >= 1, --connections 1-64, --runs >= 1")
    if any(not 1 <= m <= 16 for m in args.workers):
        parser.error("--workers: counts from 1 to 16, e.g. 1,2")
    roles.check_arguments(
        parser, argparse.Namespace(store=args.store, web=0, workers=0, worker_nice=0)
    )

    print(roles.load_line("start"), flush=True)
    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="vouch-bench-send-") as tmp:
            workdir = Path(tmp)
            with master_store(args.store, workdir, "master") as table:
                master = write_business(workdir, table)
                base = write_business(workdir, {"path": "base.sqlite3"}) if args.baseline else None
                return uvloop.run(bench(args, sink, workdir, master, base))
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
