"""Event intake throughput and latency, against a bare endpoint of the same server.

    .venv/bin/python bench/ingest.py [--seconds 10] [--connections 64] [--warmup 2]

The server. The issue asks for `POST /v1/events` compared with "a bare endpoint of the same server
that only returns 202", and `vouch run` has no such endpoint. So rather than starting the CLI,
this script starts itself again in a subprocess (`--serve CONFIG`, not for people) running
`daemon.run.runtime.Daemon` itself, exactly what `vouch run` runs (web server, scheduler and sender
on uvloop, maildir transport), through its `extend_app` seam that adds one route, `POST /bare`,
returning 202 with a tiny JSON body. It sits behind the same middleware (the body limit), so the
difference between the two is exactly the events handler: validation, the bearer check and the
SQLite commit.

The load. A minimal HTTP/1.1 keep-alive client on uvloop, in this process (httpx would be the
bottleneck): `--connections` connections, each sending one request at a time, a ~300-byte JSON
event with a unique id and `Authorization: Bearer`, and reading the whole response (status line,
headers, Content-Length body). Each target gets `--warmup` seconds (not counted), then
`--seconds` measured; every loop also stops at `--max-requests` and each request times out after
`--timeout` seconds (counted as an error). Only 127.0.0.1 is ever contacted.

Exit status 1 when any request failed or got another status than 202.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import tomli_w
import uvloop
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from daemon.clock import SystemClock
from daemon.run.runtime import Daemon

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
TOKEN = "bench-token-0123456789abcdef"
ENV = {"VOUCH_API_TOKEN": TOKEN, "VOUCH_SECRET_KEY": "bench-signing-key-0123456789"}


# The server process ---------------------------------------------------------------------------


async def bare() -> JSONResponse:
    """The baseline: the same app and middleware, no work."""
    return JSONResponse(status_code=202, content={"status": "accepted"})


def serve(config_path: Path) -> None:
    """`vouch run` itself (runtime.Daemon: web server, scheduler, sender) plus POST /bare."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    def add_bare(app: FastAPI) -> None:
        app.add_api_route("/bare", bare, methods=["POST"], status_code=202)

    uvloop.run(Daemon(config_path, os.environ, SystemClock(), extend_app=add_bare).run())


def write_business(root: Path) -> Path:
    """A business folder with the maildir transport; the server picks a free port itself."""
    (root / "templates").mkdir()
    os.symlink(REPO / "templates" / "email", root / "templates" / "email")
    os.symlink(REPO / "surveys", root / "surveys")  # so each event is planned, as in real use
    config = {
        "business": {
            "name": "Harbor Lane Renovations",
            "email": "hello@harborlane.example",
            "owner_email": "owner@harborlane.example",
            "timezone": "Europe/London",
            "public_url": "http://vouch.test",
        },
        "server": {"host": HOST, "port": 0},
        "store": {"path": "var/vouch.sqlite3"},
        "email": {"transport": "maildir", "maildir": {"path": "var/maildir"}},
    }
    path = root / "config.toml"
    path.write_text(tomli_w.dumps(config))
    return path


class ServerProcess:
    """`ingest.py --serve CONFIG` in a subprocess; `port` is read from its first stdout line."""

    def __init__(self, config: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(config)],
            env={**os.environ, **ENV},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()  # blocks until the server listens
        found = re.match(r"listening on http://[\d.]+:(\d+)", line)
        if not found:
            self.stop()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.port = int(found.group(1))
        # keep reading what the server logs, or a full pipe would stall it mid-benchmark
        threading.Thread(target=self._process.stdout.read, daemon=True).start()

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


# The load generator ---------------------------------------------------------------------------


class HttpClient(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time; `request` returns the status."""

    def __init__(self) -> None:
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[int] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return  # the headers are not all here yet
        head = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])  # "HTTP/1.1 202 Accepted"
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        if len(self._buffer) < end + 4 + length:
            return  # the body is not all here yet
        del self._buffer[: end + 4 + length]
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(ConnectionError(f"connection closed: {exc}"))

    async def request(self, data: bytes) -> int:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(data)
        return await self._waiter

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # timeouts, dropped connections, statuses other than 202
    sent: int = 0


def event_request(
    port: int, path: str, event_id: str, email: str, occurred_at: str = "2026-03-02T10:00:00Z"
) -> bytes:
    """One POST with a ~300-byte event, as a real integration would send it."""
    body = json.dumps(
        {
            "id": event_id,
            "type": "purchase.completed",
            "occurred_at": occurred_at,
            "customer": {
                "email": email,
                "name": "Ann Example",
                "external_id": event_id,
                "timezone": "Europe/London",
                "locale": "en-GB",
                "tags": ["bench"],
            },
            "data": {"order": event_id, "amount": "149.00", "currency": "GBP"},
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def load(
    port: int, path: str, label: str, seconds: float, args: argparse.Namespace
) -> tuple[Tally, float]:
    """`args.connections` loops for `seconds` (or `args.max_requests` in all); (tally, elapsed)."""
    loop = asyncio.get_running_loop()
    tally = Tally()
    deadline = time.perf_counter() + seconds

    async def connection(n: int) -> None:
        client: HttpClient | None = None
        seq = 0
        while time.perf_counter() < deadline and tally.sent < args.max_requests:
            tally.sent += 1
            seq += 1
            data = event_request(port, path, f"{label}-{n}-{seq}", f"c{n}-{seq}@example.com")
            started = time.perf_counter()
            try:
                async with asyncio.timeout(args.timeout):
                    if client is None:
                        _, client = await loop.create_connection(HttpClient, HOST, port)
                    status = await client.request(data)
            except (OSError, TimeoutError):
                tally.errors += 1
                if client is not None:
                    client.close()
                client = None  # a fresh connection for the next request
                continue
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if status == 202:
                tally.latencies.append(time.perf_counter() - started)
            else:
                tally.errors += 1
        if client is not None:
            client.close()

    started = time.perf_counter()
    async with asyncio.TaskGroup() as tasks:
        for n in range(args.connections):
            tasks.create_task(connection(n))
    return tally, time.perf_counter() - started


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def bench(port: int, args: argparse.Namespace) -> int:
    run = f"{os.getpid()}-{int(time.time())}"  # event ids never repeat across runs
    rows = []
    failed = False
    for name, path in (("events", "/v1/events"), ("bare", "/bare")):
        if args.warmup > 0:
            await load(port, path, f"warm-{name}-{run}", args.warmup, args)
        tally, elapsed = await load(port, path, f"{name}-{run}", args.seconds, args)
        ok = sorted(tally.latencies)
        rate = len(ok) / elapsed
        rows.append((name, path, rate, percentile(ok, 0.50), percentile(ok, 0.99), tally))
        failed = failed or tally.errors > 0
        print(f"  {path:<11} done: {len(ok)} in {elapsed:.1f} s, statuses {tally.statuses}")

    print()
    print(f"{'endpoint':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for _, path, rate, p50, p99, tally in rows:
        print(f"{path:<12} {rate:>8,.0f} {p50 * 1000:>8.1f} {p99 * 1000:>8.1f} {tally.errors:>7}")
    ratio = rows[0][2] / rows[1][2] if rows[1][2] else float("nan")
    print(f"ratio events / bare: {ratio:.0%}   (target >= 50%, events p99 < 100 ms)")
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first (2)")
    parser.add_argument("--connections", type=int, default=64, help="keep-alive connections (64)")
    parser.add_argument(
        "--max-requests", type=int, default=1_000_000, help="cap per phase (1000000)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request timeout (10 s)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)  # the server subprocess
    args = parser.parse_args()

    if args.serve:
        serve(args.serve)
        return 0
    if not 0 < args.seconds <= 600 or not 1 <= args.connections <= 1024:
        parser.error("need 0 < --seconds <= 600 and 1 <= --connections <= 1024")

    with tempfile.TemporaryDirectory(prefix="vouch-bench-ingest-") as tmp:
        server = ServerProcess(write_business(Path(tmp)))
        try:
            print(
                f"server on {HOST}:{server.port}; {args.connections} connections, "
                f"{args.warmup:g} s warm-up + {args.seconds:g} s per endpoint; "
                f"load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            return uvloop.run(bench(server.port, args))
        finally:
            server.stop()


if __name__ == "__main__":
    sys.exit(main())
