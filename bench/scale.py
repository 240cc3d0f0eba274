"""One scheduler tick on a big store: 1M customers, 3M events, 10,000 invitations due now.

    .venv/bin/python bench/scale.py [--customers 1000000] [--events 3000000] [--due 10000]
    .venv/bin/python bench/scale.py --customers 100000 --events 300000 --due 1000   # quick

The store. Opened once with `SQLiteStore.open` (which creates and migrates the schema), closed,
then filled with plain `sqlite3` `executemany` in big transactions (synchronous off during the
build only): customers with unique emails and random 16-byte public ids; `purchase.completed`
events (~300-byte payloads, unique ids, spread over the customers) all marked processed; and
`--due` invitations of the stock `post_purchase` survey, one per customer, state `scheduled`,
due a minute before the clock. The build runs in a child process, so its memory does not count
in the figure below; then the file is fsynced, so the first checkpoint in a timed tick does not
pay for the build's unwritten gigabytes (a live store is never in that state). The build time
is reported.

The tick. In this process, with services built as tests/conftest.py does (a temp business folder
from `ingest.write_business`: the repo's email templates and surveys, maildir transport, not used
here), `Services(config, Renderer(config, clock), store, clock, Metrics())` and a FakeClock at
Wednesday 2026-03-04 10:00 UTC (inside the default window, weekdays 09:00-18:00 Europe/London),
`Scheduler(services).tick()` is timed once. A tick renders nothing: it queues each due survey
unrendered (recipient, Message-ID, invitation; daemon/surveys/survey_email.py), at most
`scheduler.SURVEY_BATCH` (2,000) a tick whatever `--due` is; the script reports how many the tick
handled, then times the ticks it takes to queue every due invitation (`--drain`, on by default;
each bounded by `--max-ticks`).
The second tick (the next batch of due invitations) runs under cProfile, and its top entries by
cumulative and by own time are printed: where the time goes.
Rendering at claim: the work the tick no longer does. After the drain, a `Sender` with the
daemon's `render` (survey_email.render_claimed) and a transport that discards what it is given
(8 at a time, like the SMTP pool) runs `drain()` over every queued survey: claim 64 rows, render
them (two queries, then a stamp each, DKIM off as in the stock config), store their bytes, "send",
settle. Its wall time is printed as emails/s and ms each, with the part spent inside
`render_claimed` (the queries and the rendering) on its own; every row is checked sent with its
bytes stored. Then the same rows are queued again, their bytes stored, and drained once more:
the sender's cost without rendering, for comparison.
Then the baseline, in the same process (`--baseline` emails, 1,000): one survey email with its
own name and freshly signed links, rendered in full (Jinja2, CSS inlining, quoted-printable: what
each email cost before stamps) and stamped (daemon/mail/stamp.py, what the sender does at claim),
interleaved three times; the medians and their ratio are printed.
Peak RSS is `resource.getrusage(RUSAGE_SELF).ru_maxrss` of this process after all of that.
Aims: tick with `--due` invitations < 2 s, RSS < 300 MB.

The store lives in a temp dir (`--dir`, default the system's) and is deleted at the end, unless
`--keep`. Full size takes ~1.5 GB of disk.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import multiprocessing
import os
import pstats
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import ENV, write_business

from daemon.clock import FakeClock, to_ms
from daemon.config import load_config
from daemon.mail.outbox import OutboxRow
from daemon.mail.render import Renderer
from daemon.mail.tokens import survey_token, survey_tokens, unsubscribe_token
from daemon.run.metrics import Metrics
from daemon.run.scheduler import SURVEY_BATCH, Scheduler
from daemon.run.sender import Sender
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.surveys import survey_email

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday, 10:00 in London
CHUNK = 100_000


# Building the store (in a child process) ----------------------------------------------------


def build(path: Path, customers: int, events: int, due: int) -> dict[str, float]:
    """Schema by SQLiteStore.open, rows by sqlite3 executemany; seconds per table."""
    asyncio.run(_create(path))
    rng = random.Random(20261123)
    now = to_ms(NOW)
    day = 86_400_000
    times: dict[str, float] = {}
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")  # 256 MB of page cache for the build

    def insert(sql: str, rows_for: range, make: object) -> None:
        for start in range(rows_for.start, rows_for.stop, CHUNK):
            db.execute("BEGIN")
            db.executemany(sql, map(make, range(start, min(start + CHUNK, rows_for.stop))))  # type: ignore[arg-type]
            db.execute("COMMIT")

    started = time.perf_counter()
    insert(
        "INSERT INTO customers (id, email, name, external_id, timezone, locale, tags, "
        "created_at, updated_at, public_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        range(1, customers + 1),
        lambda i: (
            i,
            f"customer{i}@example.com",
            f"Customer {i}",
            f"crm-{i}",
            None,
            "en-GB",
            '["bench"]',
            now - 400 * day + i,
            now - 400 * day + i,
            rng.randbytes(16).hex(),
        ),
    )
    times["customers"] = time.perf_counter() - started

    def event(n: int) -> tuple[object, ...]:
        customer = n % customers + 1
        at = now - 365 * day + n * (365 * day // max(events, 1))
        payload = (
            f'{{"id":"ev-{n}","type":"purchase.completed","occurred_at":{at},'
            f'"customer":{{"email":"customer{customer}@example.com","name":"Customer '
            f'{customer}","external_id":"crm-{customer}","locale":"en-GB","tags":["bench"]}},'
            f'"data":{{"order":"ord-{n}","amount":"149.00","currency":"GBP","items":3,'
            f'"channel":"web"}}}}'
        )
        receipt = f'{{"status":"accepted","id":"ev-{n}"}}'
        return (n, f"ev-{n}", "purchase.completed", 1, at, at, customer, f"{n:064x}", payload,
                receipt, at)  # fmt: skip

    started = time.perf_counter()
    insert(
        "INSERT INTO events (seq, id, type, known, occurred_at, received_at, customer_id, "
        "body_hash, payload, receipt, processed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        range(1, events + 1),
        event,
    )
    times["events"] = time.perf_counter() - started

    started = time.perf_counter()
    insert(
        "INSERT INTO invitations (id, public_id, customer_id, survey, event_id, state, due_at, "
        "expires_at, created_at) VALUES (?, ?, ?, 'post_purchase', ?, 'scheduled', ?, ?, ?)",
        range(1, due + 1),
        lambda i: (
            i,
            rng.randbytes(16).hex(),
            (i - 1) % customers + 1,  # one per customer while due <= customers
            f"ev-{(i - 1) % customers + 1}",  # that customer's first event
            now - 60_000,
            now + 30 * day,
            now - 3 * day,
        ),
    )
    times["invitations"] = time.perf_counter() - started
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    # Built with synchronous off, the file is ~1.8 GB of pages the OS has not written yet; the
    # tick's first checkpoint would fsync them all (1.4 s in one tick). A live store is not in
    # that state, so the build is flushed before anything is timed.
    started = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    times["fsync"] = time.perf_counter() - started
    return times


async def _create(path: Path) -> None:
    store = await SQLiteStore.open(path)
    await store.close()


def build_child(path: Path, customers: int, events: int, due: int, out: object) -> None:
    out.send(build(path, customers, events, due))  # type: ignore[attr-defined]


# The tick -----------------------------------------------------------------------------------


async def measure(root: Path, store_path: Path, args: argparse.Namespace) -> int:
    config = load_config(write_business(root), ENV, need_secrets=True)
    clock = FakeClock(NOW)
    store = await SQLiteStore.open(store_path)
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    scheduler = Scheduler(services)
    try:
        started = time.perf_counter()
        handled = await scheduler.tick()
        first = time.perf_counter() - started
        queued = (await store.outbox_counts()).get("queued", 0)
        print(
            f"one tick: {first:.3f} s, handled {handled} items, outbox queued {queued} "
            f"(of {args.due} due; a tick takes at most SURVEY_BATCH = {SURVEY_BATCH})",
            flush=True,
        )
        timings = [first]  # seconds per tick, unprofiled
        if args.profile and queued < args.due:
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            handled = await scheduler.tick()
            profiler.disable()
            print(f"second tick, under cProfile: {time.perf_counter() - started:.3f} s, {handled}")
            print("(cProfile sees this thread only: time in aiosqlite's thread shows as epoll)")
            for order in ("cumulative", "tottime"):
                text = io.StringIO()
                pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(args.top)
                print(f"\ncProfile of the second tick, by {order}:")
                print(_trim(text.getvalue()))
        if args.drain:
            before = (await store.outbox_counts()).get("queued", 0)
            for _ in range(args.max_ticks):
                started = time.perf_counter()
                handled = await scheduler.tick()
                if handled == 0:
                    break
                timings.append(time.perf_counter() - started)
            queued = (await store.outbox_counts()).get("queued", 0)
            rest = sum(timings[1:])
            print(
                f"\ndrain: unprofiled ticks (s): {', '.join(f'{t:.2f}' for t in timings)}; "
                f"after the first, {rest:.2f} s for {queued - before} emails "
                f"({rest / max(queued - before, 1) * 1000:.2f} ms each); outbox queued {queued}"
            )
            if not args.profile:  # every due invitation went through an unprofiled tick
                print(
                    f"all {queued} due queued in {sum(timings):.2f} s of ticks "
                    f"({len(timings)} ticks, back to back as `Scheduler.run` does while they "
                    "are full)"
                )
        if args.claim:
            await render_at_claim(services, queued)
        if args.baseline:
            rendering(services, args.baseline)
    finally:
        await store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB   (aims: tick < 2 s, RSS < 300 MB)")
    return 0


class Discard:
    """A transport that takes every message and keeps none (8 at a time, like the SMTP pool)."""

    concurrency = 8

    async def send(self, envelope_from: str, recipient: str, message: bytes, *, key: str) -> str:
        return "250 OK"

    async def aclose(self) -> None:
        return None


async def render_at_claim(services: Services, queued: int) -> None:
    """The sender over every queued survey: claim, render, store the bytes, discard, settle."""
    spent, rendered = [0.0], [0]

    async def render(rows: Sequence[OutboxRow]) -> dict[int, bytes | str]:
        rendered[0] += len(rows)
        started = time.perf_counter()
        try:
            return await survey_email.render_claimed(services, rows)
        finally:
            spent[0] += time.perf_counter() - started

    store = services.store
    settings = services.config.settings.sender
    sender = Sender(store, Discard(), services.clock, settings, Metrics(), render=render)
    started = time.perf_counter()
    settled = await sender.drain()
    took = time.perf_counter() - started
    sent = (await store.outbox_counts()).get("sent", 0)
    assert isinstance(store, SQLiteStore)
    rows = await store._read("SELECT count(*) FROM outbox WHERE state = 'sent' AND message = X''")
    print(
        f"\nrendering at claim (Sender.drain, transport discards): {settled} emails in "
        f"{took:.2f} s, {settled / took:,.0f} emails/s, {took / settled * 1000:.2f} ms each, "
        f"of which render_claimed {spent[0] / settled * 1000:.2f} ms each; "
        f"sent {sent} of {queued} queued, {rows[0][0]} sent without stored bytes"
    )
    async with store._write() as db:  # the same rows again, their bytes stored: no rendering
        await db.execute(
            "UPDATE outbox SET state = 'queued', due_at = ? WHERE state = 'sent'",
            (to_ms(services.clock.now()),),
        )
    before = rendered[0]
    started = time.perf_counter()
    again = await sender.drain()
    took = time.perf_counter() - started
    print(
        f"the same drain over those rows again, their bytes stored: {again / took:,.0f} "
        f"emails/s, {took / again * 1000:.2f} ms each ({rendered[0] - before} rendered)"
    )


def rendering(services: Services, n: int) -> None:
    """The baseline, in the same process: a survey email rendered in full (Jinja2, CSS
    inlining, quoted-printable: what every email cost before stamps) against the stamped one
    the sender builds at claim, each with its own name, links and tokens, interleaved 3 times."""
    signer, renderer, stamps = services.signer, services.renderer, services.stamps
    personal = frozenset({"customer_name", "scores", "survey_url", "unsubscribe_url"})

    def context(i: int) -> dict[str, Any]:
        public_id = f"{i:032x}"
        tokens = survey_tokens(signer, public_id)
        return {
            "customer_name": f"Customer{i}",
            "question": "How likely are you to recommend us to a friend or colleague?",
            "low_label": "Not at all likely",
            "high_label": "Extremely likely",
            "scores": [{"score": k, "url": services.url(f"/s/{t}")} for k, t in enumerate(tokens)],
            "survey_url": services.url(f"/s/{survey_token(signer, public_id, None)}"),
            "unsubscribe_url": services.url(f"/u/{unsubscribe_token(signer, public_id)}"),
        }

    full, stamped = [], []
    for _ in range(3):
        for way, times in (("full", full), ("stamp", stamped)):
            started = time.perf_counter()
            for i in range(n):
                envelope = {"to_email": f"c{i}@example.com", "to_name": f"Customer{i}"}
                message_id = f"<bench-{i}@harborlane.example>"
                if way == "full":
                    renderer.render("survey", context(i), message_id=message_id, **envelope)
                else:
                    stamps.render(
                        "survey", context(i), personal=personal, message_id=message_id, **envelope
                    )
            times.append((time.perf_counter() - started) / n * 1e6)
    a, b = sorted(full)[1], sorted(stamped)[1]
    print(
        f"rendering a survey email with its links (median of 3 x {n}): full render {a:.0f} us, "
        f"stamped {b:.0f} us: {a / b:.1f}x"
    )


def _trim(report: str) -> str:
    lines = report.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    return "\n".join(lines[start:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="(1000000)")
    parser.add_argument("--events", type=int, default=3_000_000, help="(3000000)")
    parser.add_argument("--due", type=int, default=10_000, help="invitations due now (10000)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temp store goes")
    parser.add_argument("--keep", action="store_true", help="keep the store (prints its path)")
    parser.add_argument("--no-profile", dest="profile", action="store_false")
    parser.add_argument("--no-drain", dest="drain", action="store_false")
    parser.add_argument(
        "--no-claim", dest="claim", action="store_false", help="skip rendering at claim"
    )
    parser.add_argument("--max-ticks", type=int, default=1000, help="bound on --drain (1000)")
    parser.add_argument("--top", type=int, default=20, help="profile entries shown (20)")
    parser.add_argument(
        "--baseline",
        type=int,
        default=1000,
        help="emails in the rendering baseline (1000; 0 none)",
    )
    args = parser.parse_args()
    if not 1 <= args.due <= args.customers <= 10_000_000 or not 0 <= args.events <= 30_000_000:
        parser.error("need 1 <= --due <= --customers <= 10M and 0 <= --events <= 30M")

    tmp = tempfile.mkdtemp(prefix="vouch-bench-scale-", dir=args.dir)
    root = Path(tmp)
    store_path = root / "big.sqlite3"
    try:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe(duplex=False)
        process = ctx.Process(
            target=build_child, args=(store_path, args.customers, args.events, args.due, child)
        )
        started = time.perf_counter()
        process.start()
        child.close()
        times = parent.recv()
        process.join()
        built = time.perf_counter() - started
        size = store_path.stat().st_size / 2**20
        print(
            f"built {args.customers:,} customers, {args.events:,} events, {args.due:,} due "
            f"invitations in {built:.1f} s ("
            + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
            + f"); file {size:,.0f} MB",
            flush=True,
        )
        (root / "biz").mkdir()
        return asyncio.run(measure(root / "biz", store_path, args))
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
