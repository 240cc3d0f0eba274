"""Mixed load at fixed rates against the real `vouch run` daemon, with its memory over time.

    .venv/bin/python bench/load.py [--rate 500] [--seconds 60] [--views 20] [--answers 10]

The daemon. `ingest.py`'s `ServerProcess` (itself a subprocess running `daemon.run.runtime.Daemon`,
what `vouch run` runs: web server, scheduler and outbox sender on uvloop; its extra `/bare` route
is not used here) on a temp business folder written by this script. The transport is SMTP to an
aiosmtpd sink in another process, so the sender drains the outbox while the load runs.

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
the daemon's VmRSS (/proc/<pid>/status) every `--sample-seconds`, with growth first -> last.
Exit status 1 when any request failed (timeout, dropped connection, unexpected status).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
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
from pathlib import Path
from typing import Any

import tomli_w
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import HOST, HttpClient, ServerProcess, percentile
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

    def stop(self) -> None:
        self._process.terminate()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()


# The business folder ------------------------------------------------------------------------

SURVEY = """\
trigger = "purchase.completed"
delay_days = 0
question = "How likely are you to recommend {{ business.name }} to a friend or colleague?"
low_label = "Not at all likely"
high_label = "Extremely likely"
reminder_days = 4
expiry_days = 30
throttle_days = 90

[follow_up]
promoter = "Wonderful! What did we do best?"
passive = "Thank you. What would have made it a 10?"
detractor = "We are sorry we let you down. What went wrong?"
"""


def write_business(root: Path, smtp_port: int) -> Path:
    (root / "templates").mkdir()
    os.symlink(REPO / "templates" / "email", root / "templates" / "email")
    (root / "surveys").mkdir()
    (root / "surveys" / "purchase.toml").write_text(SURVEY)
    config = {
        "business": {
            "name": "Harbor Lane Renovations",
            "email": "hello@harborlane.example",
            "owner_email": "owner@harborlane.example",
            "timezone": "Europe/London",
            "public_url": "http://vouch.test",
        },
        "server": {"host": HOST, "port": 0, "trusted_proxies": [HOST]},
        "store": {"path": "var/vouch.sqlite3"},
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
    port: int, args: argparse.Namespace, seconds: float, label: str, tokens: Tokens
) -> tuple[dict[str, Tally], float]:
    pool = Pool(port, args.connections)
    tallies = {"event": Tally(), "view": Tally(), "answer": Tally()}
    running: set[asyncio.Task[None]] = set()
    started = time.perf_counter()

    def launch(kind: str, data: bytes, due: float, ok: int) -> None:
        tallies[kind].sent += 1
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
                launch(kind, event_request(port, f"{label}-{i}"), due, 202)
                continue
            tokens.pull()
            if kind == "view" and tokens.fresh:
                token = tokens.fresh.popleft()
                n = tallies["view"].sent  # one client address per customer
                address = f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"
                tokens.viewed.append((token, address))
                launch(kind, page_request(port, token, address, None), due, 200)
            elif kind == "answer" and tokens.viewed:
                token, address = tokens.viewed.popleft()
                launch(kind, page_request(port, token, address, i % 11), due, 200)
            else:
                tallies[kind].skipped += 1

    async with asyncio.TaskGroup() as group:
        group.create_task(schedule("event", args.rate))
        group.create_task(schedule("view", args.views))
        group.create_task(schedule("answer", args.answers))
    if running:
        await asyncio.wait(running, timeout=args.timeout + 5)
    elapsed = time.perf_counter() - started
    pool.close()
    return tallies, elapsed


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def bench(port: int, pid: int, sink: Sink, args: argparse.Namespace) -> int:
    run = f"{os.getpid()}-{int(time.time())}"
    tokens = Tokens(sink.tokens)
    if args.warmup > 0:
        await phase(port, args, args.warmup, f"warm-{run}", tokens)
        print(f"warm-up done ({args.warmup:g} s); emails at the sink: {sink.counter.value}")

    samples: list[tuple[float, int]] = []
    sent_before = sink.counter.value

    async def sample() -> None:
        t0 = time.perf_counter()
        while True:
            samples.append((time.perf_counter() - t0, rss_kib(pid)))
            await asyncio.sleep(args.sample_seconds)

    sampler = asyncio.create_task(sample())
    tallies, elapsed = await phase(port, args, args.seconds, run, tokens)
    sampler.cancel()
    samples.append((elapsed, rss_kib(pid)))
    emails = sink.counter.value - sent_before

    print()
    print(
        f"{'kind':<8} {'target/s':>9} {'sent':>7} {'ok':>7} {'ok/s':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'errors':>7} {'skipped':>8}  statuses"
    )
    targets = {"event": args.rate, "view": args.views, "answer": args.answers}
    failed = False
    for kind, tally in tallies.items():
        ok = sorted(tally.latencies)
        failed = failed or tally.errors > 0
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
    print()
    print("daemon VmRSS: " + ", ".join(f"{t:.0f}s {kib / 1024:.0f}" for t, kib in samples) + " MB")
    first, last = samples[0][1], samples[-1][1]
    print(
        f"RSS first {first / 1024:.1f} MB -> last {last / 1024:.1f} MB: "
        f"growth {(last - first) / first:+.1%}"
    )
    return 1 if failed else 0


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
    args = parser.parse_args()
    if not 0 < args.seconds <= 600 or not 0 <= args.warmup <= 60:
        parser.error("need 0 < --seconds <= 600 and 0 <= --warmup <= 60")
    if not 0 < args.rate <= 20_000 or not 0 <= args.views <= 5000 or not 0 <= args.answers <= 5000:
        parser.error("need 0 < --rate <= 20000, 0 <= --views/--answers <= 5000")
    if not 1 <= args.connections <= 1024 or args.sample_seconds <= 0:
        parser.error("need 1 <= --connections <= 1024 and --sample-seconds > 0")

    max_tokens = int((args.views + 1) * (args.seconds + args.warmup)) + 100
    sink = Sink(max_tokens)
    try:
        with tempfile.TemporaryDirectory(prefix="vouch-bench-load-") as tmp:
            server = ServerProcess(write_business(Path(tmp), sink.port))
            pid = server._process.pid  # the daemon itself (ingest.py --serve)
            try:
                print(
                    f"daemon pid {pid} on {HOST}:{server.port}, smtp sink on {sink.port}; "
                    f"events {args.rate:g}/s, views {args.views:g}/s, answers {args.answers:g}/s; "
                    f"{args.warmup:g} s warm-up + {args.seconds:g} s; "
                    f"load average {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
                return uvloop.run(bench(server.port, pid, sink, args))
            finally:
                server.stop()
    finally:
        sink.stop()


if __name__ == "__main__":
    sys.exit(main())
