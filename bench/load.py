"""Mixed load at fixed rates against the real `vouch run` daemon, with its memory over time.

    .venv/bin/python bench/load.py [--rate 500] [--seconds 60] [--views 20] [--answers 10]
        [--store sqlite|postgresql://...] [--web N --workers M] [--backlog 10000] [--baseline]

The full run of issue 16 (PostgreSQL, one web and two workers, beside SQLite in one process;
about 5 minutes):

    .venv/bin/python bench/load.py --store postgresql://vouch@127.0.0.1:54329/postgres \
        --web 1 --workers 2 --backlog 10000 --baseline

The daemon. Real `vouch run` processes (bench/roles.py) on a temp business folder written by
this script: by default one process (role all: web server, scheduler and sender) on the SQLite
file, as before; `--store URL` puts the business on a fresh PostgreSQL database of its own and
`--web N --workers M` runs N `--role web` and M `--role worker` processes on it, the load spread
over the web processes in turn. The transport is SMTP to an aiosmtpd sink in another process,
so the workers drain the outbox while the load runs. `--baseline` runs the same load on the
default (SQLite, one process) first, in the same run, and prints every figure of the layout
beside it with their ratio.

The backlog. `--backlog N` events (each a new customer, so N surveys due at once) are posted as
fast as the web process takes them before the warm-up (not measured): the workers render and
send those N surveys while the measured load runs. After the load, the bench waits (at most
`--drain-timeout`) until the sink has every survey (backlog, warm-up and measured events: one
each) and reports the drain: emails/s from the first backlog event to the last survey in.

Surveys due at once. The machine's clock is real (SystemClock), so the business folder has its
own `surveys/purchase.toml` with `delay_days = 0` and a send window of every day 00:00-23:59
(the default, weekdays 09:00-18:00 Europe/London, would hold every survey back outside office
hours). Events carry `occurred_at` = now, each for a new customer, so every event is planned
and, within about a second, rendered, queued and sent. Back-dating events by a few days with the
stock 3-day survey would be the same, but still subject to the window, hence this choice.

The sink parses every message it gets, takes one of the eleven score links (`/s/<token>`, the
score varying from email to email) from the text part and hands the token back through a queue.
The load then GETs `/s/{token}` (what a customer's click does: the survey page, the score
pre-chosen) and POSTs answers (`score=N&comment=...`, N cycling 0-10, so detractors also raise
owner alerts) on tokens it has viewed. Public
pages are rate-limited per client address (60/min), so the temp config trusts 127.0.0.1 as a
proxy and each customer's requests carry their own `X-Forwarded-For` address, as behind a
real reverse proxy.

The load is open-loop: each kind has a fixed schedule (request i at t0 + i/rate), requests go
out on a pool of keep-alive connections (`ingest.HttpClient`, at most `--connections`), and a
request's latency is counted from its scheduled time, so waiting for a free connection or a
late generator counts against the daemon, not hidden by it. A view or answer whose time comes
before any token is available is skipped (counted, not an error). `--warmup` seconds run first
at the same rates, not counted. Every loop is bounded: `--seconds` (<= 600), rate * seconds
requests per kind, `--timeout` per request; only 127.0.0.1 is contacted.

Reported: per kind, sent / ok / errors / rate achieved / p50 / p99 (ms); emails the sink got;
each process's VmRSS (/proc/<pid>/status) every `--sample-seconds`, with growth first -> last;
the drain; the machine's load average at the start and the end (the machine may be shared:
compare with the same-run baseline, not across runs).
Exit status 1 when any request failed (timeout, dropped connection, unexpected status) or a
survey did not arrive within the drain timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import email
import email.policy
import multiprocessing
import multiprocessing.connection
import os
import queue
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import tomli_w
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
import roles
from ingest import ENV, HOST, HttpClient, percentile
from ingest import event_request as ingest_event

REPO = Path(__file__).resolve().parent.parent
SURVEY_TOKEN = re.compile(r"/s/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)")


# The sink: another process; counts messages and passes survey tokens back ---------------------


class TokenHandler:
    def __init__(self, counter: Any, tokens: Any, max_tokens: int) -> None:
        self.counter = counter
        self.tokens = tokens
        self.left = max_tokens

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.counter.value += 1
        if self.left > 0:
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            body = message.get_body(("plain",))  # type: ignore[attr-defined]
            links = SURVEY_TOKEN.findall(body.get_content()) if body is not None else []
            if links:  # the score links 0-10: the customer clicks one, in turn
                self.left -= 1
                self.tokens.put(links[self.counter.value % len(links)])
        return "250 OK"


def run_sink(
    counter: Any, tokens: Any, max_tokens: int, port_out: multiprocessing.connection.Connection
) -> None:
    from aiosmtpd.smtp import SMTP as SmtpServer

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        handler = TokenHandler(counter, tokens, max_tokens)
        server = await loop.create_server(
            lambda: SmtpServer(handler, hostname="sink.bench", ident="bench sink"), HOST, 0
        )
        port_out.send(server.sockets[0].getsockname()[1])
        port_out.close()
        await server.serve_forever()

    uvloop.run(serve())


class Sink:
    def __init__(self, max_tokens: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.counter = ctx.Value("q", 0, lock=False)
        self.tokens = ctx.Queue()
        parent, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(
            target=run_sink, args=(self.counter, self.tokens, max_tokens, child), daemon=True
        )
        self._process.start()
        child.close()
        if not parent.poll(30):
            self._process.kill()
            raise RuntimeError("the SMTP sink did not start within 30 s")
        self.port: int = parent.recv()

    @property
    def pid(self) -> int:
        return int(self._process.pid or 0)

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()


# The business folder ------------------------------------------------------------------------


def write_business(root: Path, smtp_port: int, store_url: str | None) -> Path:
    (root / "templates").mkdir()
    os.symlink(REPO / "templates" / "email", root / "templates" / "email")
    (root / "surveys").mkdir()
    (root / "surveys" / "purchase.toml").write_text(roles.SURVEY)
    config = {
        "business": {
            "name": "Harbor Lane Renovations",
            "email": "hello@harborlane.example",
            "owner_email": "owner@harborlane.example",
            "timezone": "Europe/London",
            "public_url": "http://vouch.test",
        },
        "server": {"host": HOST, "port": 0, "trusted_proxies": [HOST]},
        "store": roles.store_table(store_url),
        "email": {
            "transport": "smtp",
            "smtp": {"host": HOST, "port": smtp_port, "security": "none", "connections": 4},
        },
        "send_window": {
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "start": "00:00",
            "end": "23:59",
        },
    }
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    return path


# Requests -----------------------------------------------------------------------------------


def event_request(port: int, event_id: str) -> bytes:
    """An event for a new customer, happening now, so its survey (delay 0) is due at once."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return ingest_event(port, "/v1/events", event_id, f"{event_id}@example.com", now)


def page_request(port: int, token: str, address: str, answer: int | None) -> bytes:
    head = f"Host: {HOST}:{port}\r\nX-Forwarded-For: {address}\r\n"
    if answer is None:
        return f"GET /s/{token} HTTP/1.1\r\n{head}\r\n".encode("ascii")
    body = f"score={answer}&comment=bench+answer+{answer}".encode("ascii")
    return (
        f"POST /s/{token} HTTP/1.1\r\n{head}"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode("ascii") + body


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    sent: int = 0
    errors: int = 0
    skipped: int = 0  # a view or answer due before any token was at hand


class Pool:
    """Keep-alive connections, opened as needed up to `limit`; a request waits for a free one."""

    def __init__(self, port: int, limit: int) -> None:
        self.port = port
        self.limit = limit
        self.opened = 0
        self.idle: asyncio.Queue[HttpClient] = asyncio.Queue()

    async def take(self) -> HttpClient:
        if self.idle.empty() and self.opened < self.limit:
            self.opened += 1
            try:
                _, client = await asyncio.get_running_loop().create_connection(
                    HttpClient, HOST, self.port
                )
            except OSError:
                self.opened -= 1
                raise
            return client
        return await self.idle.get()

    def give(self, client: HttpClient) -> None:
        self.idle.put_nowait(client)

    def drop(self, client: HttpClient | None) -> None:
        if client is not None:
            client.close()
            self.opened -= 1

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


async def one(pool: Pool, data: bytes, due: float, ok: int, tally: Tally, limit: float) -> None:
    """Send one request; latency from its scheduled time `due` (perf_counter)."""
    client: HttpClient | None = None
    try:
        async with asyncio.timeout(limit):
            client = await pool.take()
            status = await client.request(data)
    except (OSError, TimeoutError):
        tally.errors += 1
        pool.drop(client)
        return
    pool.give(client)
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    if status == ok:
        tally.latencies.append(time.perf_counter() - due)
    else:
        tally.errors += 1


# The run ------------------------------------------------------------------------------------


class Tokens:
    """Tokens from the sink, then tokens viewed (to answer), each with its client address."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.fresh: collections.deque[str] = collections.deque()
        self.viewed: collections.deque[tuple[str, str]] = collections.deque()
        self.seen = 0

    def pull(self) -> None:
        for _ in range(10_000):  # bounded per call
            try:
                self.fresh.append(self.source.get_nowait())
            except queue.Empty:
                return
            self.seen += 1


async def phase(
    ports: list[int], args: argparse.Namespace, seconds: float, label: str, tokens: Tokens
) -> tuple[dict[str, Tally], float]:
    """The open-loop schedule; requests go to the web processes in turn."""
    pools = [Pool(port, max(1, args.connections // len(ports))) for port in ports]
    turn = 0
    tallies = {"event": Tally(), "view": Tally(), "answer": Tally()}
    running: set[asyncio.Task[None]] = set()
    started = time.perf_counter()

    def launch(kind: str, request: Any, due: float, ok: int) -> None:
        nonlocal turn
        pool = pools[turn % len(pools)]
        turn += 1
        tallies[kind].sent += 1
        data = request(pool.port)
        task = asyncio.create_task(one(pool, data, due, ok, tallies[kind], args.timeout))
        running.add(task)
        task.add_done_callback(running.discard)

    async def schedule(kind: str, rate: float) -> None:
        if rate <= 0:
            return
        for i in range(int(rate * seconds)):  # bounded: rate * seconds requests
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if kind == "event":
                launch(kind, lambda port, i=i: event_request(port, f"{label}-{i}"), due, 202)
                continue
            tokens.pull()
            if kind == "view" and tokens.fresh:
                token = tokens.fresh.popleft()
                n = tallies["view"].sent  # one client address per customer
                address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                tokens.viewed.append((token, address))
                launch(
                    kind, partial(page_request, token=token, address=address, answer=None), due, 200
                )
            elif kind == "answer" and tokens.viewed:
                token, address = tokens.viewed.popleft()
                launch(
                    kind,
                    partial(page_request, token=token, address=address, answer=i % 11),
                    due,
                    200,
                )
            else:
                tallies[kind].skipped += 1

    async with asyncio.TaskGroup() as group:
        group.create_task(schedule("event", args.rate))
        group.create_task(schedule("view", args.views))
        group.create_task(schedule("answer", args.answers))
    if running:
        await asyncio.wait(running, timeout=args.timeout + 5)
    elapsed = time.perf_counter() - started
    for pool in pools:
        pool.close()
    return tallies, elapsed


async def backlog(ports: list[int], count: int, label: str, args: argparse.Namespace) -> int:
    """Post `count` events as fast as the web processes take them (closed loop, 64
    connections, not measured); how many were accepted."""
    accepted, left = 0, count

    async def connection(port: int) -> None:
        nonlocal accepted, left
        client: HttpClient | None = None
        while left > 0:  # bounded: each pass takes one of `count`
            left -= 1
            try:
                async with asyncio.timeout(args.timeout):
                    if client is None:
                        _, client = await asyncio.get_running_loop().create_connection(
                            HttpClient, HOST, port
                        )
                    status = await client.request(event_request(port, f"{label}-{left}"))
            except (OSError, TimeoutError):
                if client is not None:
                    client.close()
                client = None
                continue
            accepted += status == 202
        if client is not None:
            client.close()

    async with asyncio.TaskGroup() as group:
        for n in range(64):
            group.create_task(connection(ports[n % len(ports)]))
    return accepted


@dataclass
class Result:
    name: str
    tallies: dict[str, Tally]
    elapsed: float
    emails_during: int
    rss: dict[str, tuple[int, int]]  # process -> (first, last) KiB
    drained: int = 0
    cpu: dict[str, float] = field(default_factory=dict)
    drain_seconds: float = float("nan")
    expected: int = 0

    def p(self, kind: str, fraction: float) -> float:
        return percentile(sorted(self.tallies[kind].latencies), fraction) * 1000

    def ok_rate(self, kind: str) -> float:
        return len(self.tallies[kind].latencies) / self.elapsed

    @property
    def errors(self) -> int:
        return sum(t.errors for t in self.tallies.values())


async def bench(
    layout: roles.Layout, sink: Sink, args: argparse.Namespace, name: str, url: str | None
) -> Result:
    run = f"{os.getpid()}-{int(time.time())}"
    tokens = Tokens(sink.tokens)
    ports = layout.ports
    began = time.perf_counter()
    surveys = 0
    if args.backlog:
        took = time.perf_counter()
        surveys += await backlog(ports, args.backlog, f"backlog-{run}", args)
        print(
            f"backlog: {surveys} events accepted in {time.perf_counter() - took:.1f} s "
            f"(surveys due at once); emails at the sink: {sink.counter.value}",
            flush=True,
        )
    if args.warmup > 0:
        warm, _ = await phase(ports, args, args.warmup, f"warm-{run}", tokens)
        surveys += len(warm["event"].latencies)
        print(f"warm-up done ({args.warmup:g} s); emails at the sink: {sink.counter.value}")

    labels = {p.pid: " ".join(p.args[:2]) or "all" for p in layout.processes}
    samples: dict[int, list[int]] = {pid: [] for pid in labels}
    sent_before = sink.counter.value

    async def sample() -> None:
        while True:
            for pid, taken in samples.items():
                taken.append(roles.rss_kib(pid))
            await asyncio.sleep(args.sample_seconds)

    names = {f"{labels[pid]} (pid {pid})": pid for pid in labels}
    meter = roles.CpuMeter(
        {**names, "sink": sink.pid, "load generator (this process)": os.getpid()}, url
    )
    await meter.start()
    sampler = asyncio.create_task(sample())
    tallies, elapsed = await phase(ports, args, args.seconds, run, tokens)
    sampler.cancel()
    cpu = await meter.stop()
    for pid, taken in samples.items():
        taken.append(roles.rss_kib(pid))
    emails = sink.counter.value - sent_before
    surveys += len(tallies["event"].latencies)
    result = Result(
        name,
        tallies,
        elapsed,
        emails,
        {f"{labels[pid]} (pid {pid})": (taken[0], taken[-1]) for pid, taken in samples.items()},
        expected=surveys,
    )

    print()
    print(
        f"{'kind':<8} {'target/s':>9} {'sent':>7} {'ok':>7} {'ok/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'skipped':>8}  statuses"
    )
    targets = {"event": args.rate, "view": args.views, "answer": args.answers}
    for kind, tally in tallies.items():
        ok = sorted(tally.latencies)
        print(
            f"{kind:<8} {targets[kind]:>9g} {tally.sent:>7} {len(ok):>7} "
            f"{len(ok) / elapsed:>8.1f} {percentile(ok, 0.5) * 1000:>8.1f} "
            f"{percentile(ok, 0.99) * 1000:>8.1f} {tally.errors:>7} {tally.skipped:>8}  "
            f"{tally.statuses}"
        )
    print(
        f"measured {elapsed:.1f} s (schedule {args.seconds:g} s + in-flight); emails at the sink "
        f"in that time: {emails} ({emails / elapsed:.0f}/s); survey tokens seen: {tokens.seen}"
    )
    for process, (first, last) in result.rss.items():
        growth = (last - first) / first if first else float("nan")
        print(f"VmRSS {process}: {first / 1024:.0f} -> {last / 1024:.0f} MB ({growth:+.1%})")
    events = max(1, len(tallies["event"].latencies))
    result.cpu = cpu
    print(f"CPU in the measured {elapsed:.0f} s (2 cores: {2 * elapsed:.0f} CPU s at most):")
    for process, seconds in cpu.items():
        print(
            f"  {process:<36} {seconds:6.1f} s = {seconds / elapsed:4.0%} of a core, "
            f"{seconds / events * 1000:.2f} ms an accepted event"
        )

    # the drain: every survey (one an accepted event) at the sink
    deadline = time.perf_counter() + args.drain_timeout
    while sink.counter.value < surveys and time.perf_counter() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # the sink's counter is in shared memory: polled
    result.drained = sink.counter.value
    if result.drained >= surveys:
        result.drain_seconds = time.perf_counter() - began
        print(
            f"drain: all {surveys} surveys at the sink {result.drain_seconds:.1f} s after the "
            f"first event ({surveys / result.drain_seconds:.0f} emails/s over the whole run)"
        )
    else:
        result.drain_seconds = time.perf_counter() - began
        print(
            f"drain: only {result.drained} of {surveys} surveys at the sink after "
            f"{args.drain_timeout:g} s more ({result.drained / result.drain_seconds:.0f} "
            "emails/s over the whole run)",
            file=sys.stderr,
        )
    return result


def run_layout(
    args: argparse.Namespace, store: str, web: int, workers: int, nice: int = 0
) -> Result:
    name = roles.layout_name(store, web, workers, nice)
    max_tokens = int((args.views + 1) * (args.seconds + args.warmup)) + 100
    sink = Sink(max_tokens)
    try:
        with tempfile.TemporaryDirectory(prefix="vouch-bench-load-") as tmp, database(store) as url:
            config = write_business(Path(tmp), sink.port, url)
            layout = roles.start(config, ENV, web, workers, nice)
            try:
                print(
                    f"== {name}: web on {', '.join(map(str, layout.ports))}, smtp sink on "
                    f"{sink.port}; events {args.rate:g}/s, views {args.views:g}/s, answers "
                    f"{args.answers:g}/s; backlog {args.backlog}; {args.warmup:g} s warm-up + "
                    f"{args.seconds:g} s; {roles.load_line('start')}",
                    flush=True,
                )
                return uvloop.run(bench(layout, sink, args, name, url))
            finally:
                layout.stop()
    finally:
        sink.stop()


def database(store: str) -> Any:
    """A fresh PostgreSQL database's URL, or None (the SQLite file)."""
    if store == roles.SQLITE:
        return contextlib.nullcontext(None)
    return roles.fresh_database(store)


def compare(base: Result, result: Result) -> None:
    """Every figure of the layout beside the baseline's, with their ratio."""
    print()
    print(f"{'figure':<32} {base.name:>34} {result.name:>34} {'ratio':>7}")

    def row(what: str, a: float, b: float, fmt: str = ".1f") -> None:
        ratio = b / a if a else float("nan")
        print(f"{what:<32} {a:>34{fmt}} {b:>34{fmt}} {ratio:>7.2f}")

    for kind in ("event", "view", "answer"):
        row(f"{kind} ok/s", base.ok_rate(kind), result.ok_rate(kind))
        row(f"{kind} p50 ms", base.p(kind, 0.5), result.p(kind, 0.5))
        row(f"{kind} p99 ms", base.p(kind, 0.99), result.p(kind, 0.99))
    row(
        "emails/s during the load",
        base.emails_during / base.elapsed,
        result.emails_during / result.elapsed,
        ".0f",
    )
    row(
        "surveys at the sink",
        min(base.drained, base.expected),
        min(result.drained, result.expected),
        ".0f",
    )
    row("surveys expected", base.expected, result.expected, ".0f")
    row("drain: s from the first event", base.drain_seconds, result.drain_seconds)
    row(
        "drain emails/s (whole run)",
        min(base.drained, base.expected) / base.drain_seconds,
        min(result.drained, result.expected) / result.drain_seconds,
        ".0f",
    )
    row("errors", base.errors, result.errors, "d")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=500.0, help="events per second (500)")
    parser.add_argument("--views", type=float, default=20.0, help="survey page views/s (20)")
    parser.add_argument("--answers", type=float, default=10.0, help="survey answers/s (10)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured seconds (60)")
    parser.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds first (5)")
    parser.add_argument("--connections", type=int, default=256, help="connection cap (256)")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (10 s)")
    parser.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling (5 s)")
    parser.add_argument("--backlog", type=int, default=0, help="surveys queued first (0)")
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0, help="wait for the drain (300 s)"
    )
    parser.add_argument(
        "--baseline", action="store_true", help="also run SQLite in one process, compared"
    )
    roles.add_arguments(parser)
    args = parser.parse_args()
    roles.check_arguments(parser, args)
    if not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("need 0 < --seconds <= 600 and 0 <= --warmup <= 60")
    if not 0 < args.rate <= 20_000 or not 0 <= args.views <= 5000 or not 0 <= args.answers <= 5000:
        parser.error("need 0 < --rate <= 20000, 0 <= --views/--answers <= 5000")
    if not 1 <= args.connections <= 1024 or args.sample_seconds <= 0:
        parser.error("need 1 <= --connections <= 1024 and --sample-seconds > 0")
    if not 0 <= args.backlog <= 100_000 or not 0 < args.drain_timeout <= 1800:
        parser.error("need 0 <= --backlog <= 100000 and 0 < --drain-timeout <= 1800")

    print(roles.load_line("start"), flush=True)
    base = run_layout(args, roles.SQLITE, 0, 0) if args.baseline else None
    result = run_layout(args, args.store, args.web, args.workers, args.worker_nice)
    if base is not None:
        compare(base, result)
    print(roles.load_line("end"))
    runs = [r for r in (base, result) if r is not None]
    failed = any(r.errors or r.drained < r.expected for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
