"""Outbox sender throughput against its ceiling, both measured in the same run.

    .venv/bin/python bench/send.py [--emails 10000] [--connections 8] [--runs 3]

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
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import tomli_w
import uvloop
from aiosmtplib import SMTP

from daemon.clock import SystemClock
from daemon.config import Config, Smtp, load_config
from daemon.mail.compose import build_email, enqueue
from daemon.mail.outbox import State
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.sender import Sender
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.transport import SmtpTransport

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TOKEN = "bench-token-0123456789abcdef"  # only to satisfy config loading; nothing serves here


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
    def received(self) -> int:
        return int(self._counter.value)

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()


# The business the emails come from --------------------------------------------------------


def write_business(root: Path) -> Config:
    """A minimal business folder: config.toml plus a copy of the repo's templates."""
    shutil.copytree(REPO / "templates", root / "templates")
    config = {
        "business": {
            "name": "Harbor Lane Renovations",
            "email": "hello@harborlane.example",
            "reply_to": "team@harborlane.example",
            "owner_email": "owner@harborlane.example",
            "timezone": "Europe/London",
            "public_url": "http://vouch.test",
        },
        "store": {"path": "master.sqlite3"},
    }
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    environ = {"VOUCH_API_TOKEN": TOKEN, "VOUCH_SECRET_KEY": TOKEN}
    return load_config(path, environ, need_secrets=True)


async def prepare_store(config: Config, emails: int) -> tuple[Path, bytes]:
    """Render and enqueue N emails into the master store; return its path and one message."""
    clock = SystemClock()
    store = await SQLiteStore.open(config.store_path)
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    try:
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
        first = await store.outbox_row(1)
        assert first is not None
    finally:
        await store.close()  # checkpoints the WAL: the file alone is the whole store
    return config.store_path, first.message


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


# (b) the outbox sender ----------------------------------------------------------------------


async def outbox_sender(
    config: Config, master: Path, workdir: Path, run: int, port: int, connections: int
) -> tuple[float, int]:
    """Drain a fresh copy of the master store through the real Sender; (seconds, rows sent)."""
    path = workdir / f"run{run}.sqlite3"
    shutil.copyfile(master, path)
    clock = SystemClock()
    store = await SQLiteStore.open(path)
    smtp = Smtp(host=HOST, port=port, security="none", connections=connections, rate_per_minute=0)
    transport = SmtpTransport(smtp, None, clock, base_dir=workdir)
    sender = Sender(store, transport, clock, config.settings.sender, Metrics())
    try:
        started = time.perf_counter()
        await sender.drain()
        elapsed = time.perf_counter() - started
        counts = await store.outbox_counts()
    finally:
        await transport.aclose()
        await store.close()
        path.unlink()
    return elapsed, counts[State.SENT]


# the run ------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, sink: Sink, workdir: Path) -> int:
    config = write_business(workdir)
    started = time.perf_counter()
    master, message = await prepare_store(config, args.emails)
    print(
        f"prepared {args.emails} rendered emails in {time.perf_counter() - started:.1f} s "
        f"(one message: {len(message)} bytes); sink on {HOST}:{sink.port}, "
        f"{args.connections} connections, {args.runs} run(s) each; "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )

    problems: list[str] = []
    rates: dict[str, list[float]] = {"ceiling": [], "sender": []}

    async def measure(
        name: str, send: Callable[[], Coroutine[Any, Any, tuple[float, int]]]
    ) -> None:
        before = sink.received
        seconds, confirmed = await send()
        arrived = sink.received - before  # the sink counts before it says 250: nothing in flight
        rate = args.emails / seconds
        rates[name].append(rate)
        print(f"  {name:8} {rate:8.0f} emails/s  ({seconds:.2f} s, {arrived} arrived)", flush=True)
        if arrived != args.emails or confirmed != args.emails:
            problems.append(f"{name}: {arrived} arrived, {confirmed} confirmed of {args.emails}")

    async def send_ceiling() -> tuple[float, int]:
        seconds = await ceiling(sink.port, message, args.emails, args.connections)
        return seconds, args.emails

    for run in range(args.runs):
        # Alternate the order so neither side always runs on a warmer (or hotter) machine.
        order = ["ceiling", "sender"] if run % 2 == 0 else ["sender", "ceiling"]
        for name in order:
            if name == "ceiling":
                await measure(name, send_ceiling)
            else:
                await measure(
                    name,
                    lambda run=run: outbox_sender(
                        config, master, workdir, run, sink.port, args.connections
                    ),
                )

    top = statistics.median(rates["ceiling"])
    ours = statistics.median(rates["sender"])
    print()
    print(f"{'what':<40} {'emails/s (median)':>18}")
    print(f"{'(a) ceiling: aiosmtplib sendmail, no db':<40} {top:>18,.0f}")
    print(f"{'(b) outbox Sender.drain + SmtpTransport':<40} {ours:>18,.0f}")
    print(f"{'ratio (b) / (a)':<40} {ours / top:>18.0%}   (target >= 70%)")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--emails", type=int, default=10_000, help="emails per run (10000)")
    parser.add_argument("--connections", type=int, default=8, help="SMTP connections (8)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each; median shown (3)")
    args = parser.parse_args()
    if args.emails < 1 or not 1 <= args.connections <= 64 or args.runs < 1:
        parser.error("need --emails >= 1, --connections 1-64, --runs >= 1")

    sink = Sink()
    try:
        with tempfile.TemporaryDirectory(prefix="vouch-bench-send-") as tmp:
            return uvloop.run(bench(args, sink, Path(tmp)))
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
