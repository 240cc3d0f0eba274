"""The life cycle on a big store: the backfill after an upgrade, and the report's queries.

    .venv/bin/python bench/stages.py [--customers 1000000] [--events 3000000]
    .venv/bin/python bench/stages.py --customers 100000 --events 300000   # quick

The store is made with `SQLiteStore.open` (the whole schema), then filled with plain `sqlite3`
(synchronous off for the build only): customers, and events spread over them at random, of
the life-cycle types (purchases half of them) over the last 24 months, all processed. Every
customer is then marked pending, as migration 11 does on an upgrade. Timed:
- the backfill as the scheduler runs it, `stages.refresh_pending(STAGE_BACKFILL)` until done
  (the time per batch is what a scheduler tick pays);
- `stage_counts()` and `stage_moves_by_month()` for 12 months (what the report and the
  dashboard call), median of 5;
- `stages.refresh()` of 500 random customers who each just made a purchase (what a batch of
  500 events adds to a scheduler tick), median of 5.
The store lives in a temp dir and is deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from daemon.clock import to_ms
from daemon.engine.lifecycle import EVENT_STAGES, PURCHASE
from daemon.owner import stages
from daemon.owner.report import month_starts
from daemon.run.scheduler import STAGE_BACKFILL
from daemon.store import SQLiteStore

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
CHUNK = 100_000


def build(path: Path, customers: int, events: int) -> None:
    rng = random.Random(20261124)
    now, day = to_ms(NOW), 86_400_000
    kinds = [k for k in EVENT_STAGES if k != PURCHASE]
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    for start in range(0, customers, CHUNK):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO customers (id, email, created_at, updated_at, public_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                (n, f"c{n}@example.com", now, now, f"{rng.getrandbits(64):016x}{n}")
                for n in range(start + 1, min(start + CHUNK, customers) + 1)
            ),
        )
        db.execute("COMMIT")
    for start in range(0, events, CHUNK):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO events (id, type, known, occurred_at, received_at, customer_id, "
            "body_hash, payload, receipt, processed_at) VALUES (?, ?, 1, ?, ?, ?, '', '{}', "
            "'{}', ?)",
            (
                (
                    f"e{n}",
                    PURCHASE if rng.random() < 0.5 else rng.choice(kinds),
                    now - rng.randrange(730) * day,
                    now,
                    rng.randrange(1, customers + 1),
                    now,
                )
                for n in range(start, min(start + CHUNK, events))
            ),
        )
        db.execute("COMMIT")
    db.execute("INSERT INTO stage_pending SELECT id FROM customers")
    db.close()


async def median(what: Callable[[], Awaitable[object]], runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        await what()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


async def main(customers: int, events: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vouch.sqlite3"
        await (await SQLiteStore.open(path)).close()
        began = time.perf_counter()
        build(path, customers, events)
        took = time.perf_counter() - began
        print(f"built {customers:,} customers, {events:,} events in {took:.0f} s")
        store = await SQLiteStore.open(path)
        try:
            began, batches, slowest = time.perf_counter(), 0, 0.0
            while True:
                tick = time.perf_counter()
                if not await stages.refresh_pending(store, STAGE_BACKFILL):
                    break
                batches += 1
                slowest = max(slowest, time.perf_counter() - tick)
            took = time.perf_counter() - began
            print(
                f"backfill: {took:.1f} s in {batches} batches of {STAGE_BACKFILL} "
                f"({took / batches * 1000:.0f} ms a batch, slowest {slowest * 1000:.0f} ms; "
                f"{customers / took:,.0f} customers/s)"
            )
            counts = await store.stage_counts()
            print(f"now: {counts.at}, none {counts.unstaged:,}")
            starts = month_starts(NOW, "Europe/London", 12)
            print(f"stage_counts: {await median(store.stage_counts) * 1000:.0f} ms")
            moves = await median(lambda: store.stage_moves_by_month(starts))
            print(f"stage_moves_by_month (12 months): {moves * 1000:.0f} ms")
            rng, fresh = random.Random(1), iter(range(10**9))

            async def event_batch() -> None:
                """500 new purchases by random customers, then their refresh (timed)."""
                ids = rng.sample(range(1, customers + 1), 500)
                with sqlite3.connect(path) as db:
                    db.executemany(
                        "INSERT INTO events (id, type, known, occurred_at, received_at, "
                        "customer_id, body_hash, payload, receipt) "
                        "VALUES (?, ?, 1, ?, ?, ?, '', '{}', '{}')",
                        [(f"new{next(fresh)}", PURCHASE, to_ms(NOW), to_ms(NOW), c) for c in ids],
                    )
                began = time.perf_counter()
                await stages.refresh(store, ids)
                spent.append(time.perf_counter() - began)

            spent: list[float] = []
            for _ in range(5):
                await event_batch()
            print(
                "refresh_stages after 500 new purchases (an event batch): "
                f"{statistics.median(spent) * 1000:.0f} ms"
            )
        finally:
            await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    args = parser.parse_args()
    asyncio.run(main(args.customers, args.events))
