"""The customer life cycle, stored: each customer's stage and the road that led there.

The road is worked out by the pure rule (daemon/engine/lifecycle.py) from the customer's whole
history and replaced in the same transaction that read it, so two writers never undo each
other and a fact that arrives late simply takes its place. Stored so that the counts a report
needs are index scans, not a walk through every customer's events.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from daemon.clock import from_ms, to_ms
from daemon.engine.lifecycle import (
    EVENT_STAGES,
    NAMES,
    REFERRAL,
    REFERRED,
    Fact,
    Move,
    Stage,
    road,
)
from daemon.store._sql import SQL, month_values
from daemon.store.base import StageCounts

_KINDS = sorted(EVENT_STAGES)


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


class LifecycleSQL(SQL):
    async def refresh_stages(self, customer_ids: Iterable[int]) -> int:
        """Work out these customers' roads again from their history; returns how many."""
        ids = sorted(set(customer_ids))
        if ids:
            await self._transaction(lambda db: _refresh(db, ids))
        return len(ids)

    async def refresh_pending_stages(self, limit: int) -> int:
        """The backfill after an upgrade: a batch of customers whose road is not yet known."""

        def work(db: sqlite3.Connection) -> int:
            rows = db.execute(
                "SELECT customer_id FROM stage_pending ORDER BY customer_id LIMIT ?", (limit,)
            ).fetchall()
            ids = [int(r[0]) for r in rows]
            if ids:
                _refresh(db, ids)
            return len(ids)

        return await self._transaction(work)

    async def stage_of(self, customer_id: int) -> Stage | None:
        """Where a customer stands now (worked out first if the backfill has not reached them)."""
        rows = await self._read(
            "SELECT (SELECT stage FROM customer_stages WHERE customer_id = :c), "
            "EXISTS (SELECT 1 FROM stage_pending WHERE customer_id = :c)",
            {"c": customer_id},
        )
        if rows[0][1]:
            await self.refresh_stages([customer_id])
            return await self.stage_of(customer_id)
        return Stage(rows[0][0]) if rows[0][0] else None

    async def customer_road(self, customer_id: int) -> list[Move]:
        """The stages a customer reached, in order, with when and what moved them."""
        rows = await self._read(
            "SELECT stage, at, kind, source FROM stage_moves WHERE customer_id = ?",
            (customer_id,),
        )
        moves = [Move(Stage(r[0]), from_ms(r[1]), Fact(from_ms(r[1]), r[2], r[3])) for r in rows]
        return sorted(moves, key=lambda m: m.stage.rank)

    async def stage_counts(self) -> StageCounts:
        """How many customers stand at each stage now: an index scan, whatever the history."""
        rows = await self._read("SELECT stage, count(*) FROM customer_stages GROUP BY stage")
        at = dict.fromkeys(NAMES, 0) | {str(r[0]): int(r[1]) for r in rows}
        totals = await self._read(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM stage_pending)"
        )
        customers, pending = int(totals[0][0]), int(totals[0][1])
        return StageCounts(at=at, unstaged=customers - sum(at.values()), pending=pending)

    async def stage_moves_by_month(self, starts: Sequence[datetime]) -> list[tuple[int, str, int]]:
        """(month, stage, customers who moved into it): month i holds the moves in
        [starts[i], starts[i + 1]), a range on the stage_moves_at index."""
        if len(starts) < 2:
            return []
        months, params = month_values(starts)
        rows = await self._read(
            f"""
            WITH months(m, start, stop) AS (VALUES {months})
            SELECT m.m, s.stage, count(*) FROM months m
            JOIN stage_moves s ON s.at >= m.start AND s.at < m.stop
            GROUP BY m.m, s.stage
            """,
            params,
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]


def _refresh(db: sqlite3.Connection, ids: list[int]) -> None:
    """Replace the stored roads of `ids` with the ones their history shows now."""
    history: dict[int, list[Fact]] = {i: [] for i in ids}
    marks = _marks(ids)
    rows = db.execute(
        f"SELECT customer_id, seq, type, occurred_at FROM events "
        f"WHERE customer_id IN ({marks}) AND type IN ({_marks(_KINDS)})",
        [*ids, *_KINDS],
    )
    for c, seq, kind, at in rows:
        history[int(c)].append(Fact(from_ms(at), str(kind), f"event:{seq}"))
    rows = db.execute(
        f"SELECT a.customer_id, r.id, r.created_at FROM referrals r "
        f"JOIN advocates a ON a.id = r.advocate_id WHERE a.customer_id IN ({marks})",
        ids,
    )
    for c, referral_id, at in rows:
        history[int(c)].append(Fact(from_ms(at), REFERRAL, f"referral:{referral_id}"))
    rows = db.execute(
        f"SELECT friend_customer_id, id, created_at FROM referrals "
        f"WHERE friend_customer_id IN ({marks})",
        ids,
    )
    for c, referral_id, at in rows:
        history[int(c)].append(Fact(from_ms(at), REFERRED, f"referred:{referral_id}"))
    rows = db.execute(
        f"SELECT customer_id, stage, at, kind, source FROM stage_moves "
        f"WHERE customer_id IN ({marks})",
        ids,
    )
    have: dict[int, set[tuple[str, int, str, str]]] = {i: set() for i in ids}
    for c, stage, at, kind, source in rows:
        have[int(c)].add((str(stage), int(at), str(kind), str(source)))
    changed: dict[int, list[Move]] = {}
    for c, facts in history.items():
        moves = road(facts)
        if {(m.stage.value, to_ms(m.at), m.fact.kind, m.fact.ref) for m in moves} != have[c]:
            changed[c] = moves
    # Write only what changed: most refreshes (an event that shows no step forward) write
    # nothing, and a step forward is one row here and one in customer_stages.
    db.executemany(
        "DELETE FROM stage_moves WHERE customer_id = ? AND stage = ?",
        [
            (c, stage)
            for c, moves in changed.items()
            for stage in {row[0] for row in have[c]} - {m.stage.value for m in moves}
        ],
    )
    db.executemany(
        "INSERT INTO stage_moves (customer_id, stage, at, kind, source) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (customer_id, stage) DO UPDATE SET "
        "at = excluded.at, kind = excluded.kind, source = excluded.source",
        [
            (c, m.stage.value, to_ms(m.at), m.fact.kind, m.fact.ref)
            for c, moves in changed.items()
            for m in moves
            if (m.stage.value, to_ms(m.at), m.fact.kind, m.fact.ref) not in have[c]
        ],
    )
    db.executemany(
        "INSERT INTO customer_stages (customer_id, stage, since) VALUES (?, ?, ?) "
        "ON CONFLICT (customer_id) DO UPDATE SET stage = excluded.stage, since = excluded.since",
        [(c, moves[-1].stage.value, to_ms(moves[-1].at)) for c, moves in changed.items() if moves],
        # (a history only grows, so a road that changed is never empty)
    )
    db.execute(f"DELETE FROM stage_pending WHERE customer_id IN ({marks})", ids)
