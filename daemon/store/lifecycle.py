"""The customer life cycle, stored: each customer's stage and the road that led there.

The road is worked out from the customer's whole history by the rule the shell passes in (the
engine's, daemon/engine/lifecycle.py, by way of owner/stages.py: the store reads the facts and
keeps the result, it decides nothing), and replaced in the same transaction that read the
history, so two writers never undo each other and a fact that arrives late simply takes its
place. Stored so that the counts a report needs are index scans, not a walk through every
customer's events."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from daemon.engine.lifecycle_types import NAMES, REFERRAL, REFERRED, Fact, Move, RoadRule, Stage
from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries, Script, each, run
from daemon.store.rows import StageCounts, as_time


class Lifecycle(Protocol):
    """The customer life cycle: each road worked out by the rule the shell passes in, and
    the counts a report needs."""

    async def refresh_stages(
        self, customer_ids: Iterable[int], kinds: Collection[str], rule: RoadRule
    ) -> int: ...
    async def refresh_pending_stages(
        self, limit: int, kinds: Collection[str], rule: RoadRule
    ) -> int: ...
    async def stored_stage(self, customer_id: int) -> tuple[Stage | None, bool]: ...
    async def customer_road(self, customer_id: int) -> list[Move]: ...
    async def stage_counts(self) -> StageCounts: ...
    async def stage_moves_by_month(
        self, starts: Sequence[datetime]
    ) -> list[tuple[int, str, int]]: ...


class LifecycleQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects; a refresh is one script (on
    SQLite one trip: a hot transaction)."""

    async def refresh_stages(
        self, customer_ids: Iterable[int], kinds: Collection[str], rule: RoadRule
    ) -> int:
        """Work out these customers' roads again from their history with `rule`, from their
        events of `kinds` and their referrals; returns how many."""
        ids = sorted(set(customer_ids))
        if ids:
            await self._script(self._refresh(ids, kinds, rule))
        return len(ids)

    async def refresh_pending_stages(
        self, limit: int, kinds: Collection[str], rule: RoadRule
    ) -> int:
        """The backfill after an upgrade: a batch of customers whose road is not yet known."""
        return await self._script(self._refresh_pending(limit, kinds, rule))

    def _refresh_pending(self, limit: int, kinds: Collection[str], rule: RoadRule) -> Script[int]:
        rows = yield run(
            "SELECT customer_id FROM stage_pending ORDER BY customer_id LIMIT ?", limit
        )
        ids = [int(r[0]) for r in rows]
        if ids:
            yield from self._refresh(ids, kinds, rule)
        return len(ids)

    async def stored_stage(self, customer_id: int) -> tuple[Stage | None, bool]:
        """Where a customer stands now, and whether they are placed (False while the backfill
        after an upgrade has not reached them: their stored stage is not yet known)."""
        rows = await self._fetch(
            "SELECT (SELECT stage FROM customer_stages WHERE customer_id = ?), "
            "EXISTS (SELECT 1 FROM stage_pending WHERE customer_id = ?)",
            customer_id,
            customer_id,
        )
        return (Stage(rows[0][0]) if rows[0][0] else None), not rows[0][1]

    async def customer_road(self, customer_id: int) -> list[Move]:
        """The stages a customer reached, in order, with when and what moved them."""
        rows = await self._fetch(
            "SELECT stage, at, kind, source FROM stage_moves WHERE customer_id = ?", customer_id
        )
        moves = [Move(Stage(r[0]), as_time(r[1]), Fact(as_time(r[1]), r[2], r[3])) for r in rows]
        return sorted(moves, key=lambda m: m.stage.rank)

    async def stage_counts(self) -> StageCounts:
        """How many customers stand at each stage now: an index scan, whatever the history."""
        rows = await self._fetch("SELECT stage, count(*) FROM customer_stages GROUP BY stage")
        at = dict.fromkeys(NAMES, 0) | {str(r[0]): int(r[1]) for r in rows}
        totals = await self._fetch(
            "SELECT (SELECT count(*) FROM customers), (SELECT count(*) FROM stage_pending)"
        )
        customers, pending = int(totals[0][0]), int(totals[0][1])
        return StageCounts(at=at, unstaged=customers - sum(at.values()), pending=pending)

    async def stage_moves_by_month(self, starts: Sequence[datetime]) -> list[tuple[int, str, int]]:
        """(month, stage, customers who moved into it): month i holds the moves in
        [starts[i], starts[i + 1]), a range on the stage_moves_at index."""
        rows = await self._by_month(
            starts,
            """
            SELECT m.m, s.stage, count(*) FROM months m
            JOIN stage_moves s ON s.at >= m.start AND s.at < m.stop
            GROUP BY m.m, s.stage
            """,
        )
        return [(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    def _refresh(self, ids: list[int], kinds: Collection[str], rule: RoadRule) -> Script[None]:
        """Replace the stored roads of `ids` with the ones `rule` finds in their history now."""
        history: dict[int, list[Fact]] = {i: [] for i in ids}
        among, id_params = self._in(ids)
        of_kinds, kind_params = self._in(kinds)
        rows = yield run(  # each fact as (customer, at, kind, ref): its events and referrals
            f"SELECT customer_id, occurred_at, type, 'event:' || seq FROM events "
            f"WHERE customer_id {among} AND type {of_kinds} "
            "UNION ALL SELECT a.customer_id, r.created_at, CAST(? AS TEXT), "
            "'referral:' || r.id FROM referrals r "
            f"JOIN advocates a ON a.id = r.advocate_id WHERE a.customer_id {among} "
            "UNION ALL SELECT friend_customer_id, created_at, CAST(? AS TEXT), "
            f"'referred:' || id FROM referrals WHERE friend_customer_id {among}",
            *id_params,
            *kind_params,
            REFERRAL,
            *id_params,
            REFERRED,
            *id_params,
        )
        for c, at, kind, ref in rows:
            history[int(c)].append(Fact(as_time(at), str(kind), str(ref)))
        rows = yield run(
            "SELECT customer_id, stage, at, kind, source FROM stage_moves "
            f"WHERE customer_id {among}",
            *id_params,
        )
        have: dict[int, set[tuple[str, datetime, str, str]]] = {i: set() for i in ids}
        for c, stage, at, kind, source in rows:
            have[int(c)].add((str(stage), as_time(at), str(kind), str(source)))
        changed: dict[int, list[Move]] = {}
        for c, facts in history.items():
            moves = rule(facts)
            if {(m.stage.value, m.at, m.fact.kind, m.fact.ref) for m in moves} != have[c]:
                changed[c] = moves
        # Write only what changed: most refreshes (an event that shows no step forward) write
        # nothing, and a step forward is one row here and one in customer_stages.
        yield each(
            "DELETE FROM stage_moves WHERE customer_id = ? AND stage = ?",
            [
                (c, stage)
                for c, moves in changed.items()
                for stage in {row[0] for row in have[c]} - {m.stage.value for m in moves}
            ],
        )
        yield each(
            "INSERT INTO stage_moves (customer_id, stage, at, kind, source) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (customer_id, stage) DO UPDATE SET "
            "at = excluded.at, kind = excluded.kind, source = excluded.source",
            [
                (c, m.stage.value, m.at, m.fact.kind, m.fact.ref)
                for c, moves in changed.items()
                for m in moves
                if (m.stage.value, m.at, m.fact.kind, m.fact.ref) not in have[c]
            ],
        )
        yield each(
            "INSERT INTO customer_stages (customer_id, stage, since) VALUES (?, ?, ?) "
            "ON CONFLICT (customer_id) DO UPDATE SET "
            "stage = excluded.stage, since = excluded.since",
            [(c, moves[-1].stage.value, moves[-1].at) for c, moves in changed.items() if moves],
            # (a history only grows, so a road that changed is never empty)
        )
        yield run(f"DELETE FROM stage_pending WHERE customer_id {among}", *id_params)


class LifecycleSQL(LifecycleQueries, DB):
    pass


class LifecyclePG(LifecycleQueries, PGDB):
    """The customer life cycle on PostgreSQL: the same calls."""
