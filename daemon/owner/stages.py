"""The life cycle in the shell: placing customers on the road, and the life-cycle report.

`refresh`, `refresh_pending` and `stage_of` run the engine's rule (daemon/engine/lifecycle.py)
over the history the store reads, and the store keeps the result: the store decides nothing.

The report: how many customers stand at each stage now, and how many moved into each stage month
by month (calendar months in the business's time zone); and one customer's road.
`report(store, now, timezone, months)` is what the CLI, the API and the dashboard call; `build`
shapes the store's figures without I/O.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from daemon.engine.lifecycle import EVENT_STAGES, road
from daemon.engine.lifecycle_types import NAMES, Stage
from daemon.owner.report import _table, month_starts
from daemon.store.lifecycle import Lifecycle
from daemon.store.rows import StageCounts

_KINDS = tuple(sorted(EVENT_STAGES))  # the event types that show a stage


async def refresh(store: Lifecycle, customer_ids: Iterable[int]) -> int:
    """Work out these customers' roads again from their history; returns how many."""
    return await store.refresh_stages(customer_ids, _KINDS, road)


async def refresh_pending(store: Lifecycle, limit: int) -> int:
    """The backfill after an upgrade: a batch of customers whose road is not yet known."""
    return await store.refresh_pending_stages(limit, _KINDS, road)


async def stage_of(store: Lifecycle, customer_id: int) -> Stage | None:
    """Where a customer stands now (worked out first if the backfill has not reached them)."""
    stage, placed = await store.stored_stage(customer_id)
    if placed:
        return stage
    await refresh(store, [customer_id])
    return (await store.stored_stage(customer_id))[0]


async def report(store: Lifecycle, now: datetime, timezone: str, months: int) -> dict[str, Any]:
    """The report as JSON-ready data (shape: `build`)."""
    starts = month_starts(now, timezone, months)
    return build(
        now=now,
        timezone=timezone,
        starts=starts,
        counts=await store.stage_counts(),
        moves=await store.stage_moves_by_month(starts),
    )


def build(
    *,
    now: datetime,
    timezone: str,
    starts: Sequence[datetime],
    counts: StageCounts,
    moves: Iterable[tuple[int, str, int]],
) -> dict[str, Any]:
    """{generated_at, timezone, stages, now: {stage: customers}, unstaged, pending,
    months: [{month: "YYYY-MM", moved: {stage: customers}, total}]}."""
    zone = ZoneInfo(timezone)
    monthly: list[dict[str, int]] = [dict.fromkeys(NAMES, 0) for _ in starts[1:]]
    for month, stage, n in moves:
        monthly[month][stage] += n
    return {
        "generated_at": now.astimezone(zone).isoformat(),
        "timezone": timezone,
        "stages": list(NAMES),
        "now": dict(counts.at),
        "unstaged": counts.unstaged,
        "pending": counts.pending,
        "months": [
            {
                "month": f"{start.astimezone(zone):%Y-%m}",
                "moved": moved,
                "total": sum(moved.values()),
            }
            for start, moved in zip(starts[:-1], monthly, strict=True)
        ],
    }


def render(data: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    if fmt == "csv":
        return _csv(data)
    return _text(data)


def _text(data: dict[str, Any]) -> str:
    now = _table(
        ["stage", "customers"],
        [[stage, str(data["now"][stage])] for stage in NAMES]
        + [["(none yet)", str(data["unstaged"])]],
    )
    months = _table(
        ["month", *NAMES, "total"],
        [
            [m["month"], *(str(m["moved"][stage]) for stage in NAMES), str(m["total"])]
            for m in data["months"]
        ],
    )
    lines = [
        f"Life cycle, {data['generated_at'][:16].replace('T', ' ')} {data['timezone']}",
        "Know → Like → Trust → Try → Buy → Repeat → Refer; a stage never goes backwards.",
        "",
        "Where customers stand now",
        now,
    ]
    if data["pending"]:
        lines += [f"({data['pending']} customers still being placed after an upgrade)"]
    lines += ["", f"Customers who moved into each stage, by month ({data['timezone']})", months, ""]
    return "\n".join(lines)


def _csv(data: dict[str, Any]) -> str:
    """One row per month (moves into each stage), then a row "now" with where they stand."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["month", *NAMES, "total", "none"])
    for m in data["months"]:
        writer.writerow([m["month"], *(m["moved"][s] for s in NAMES), m["total"], ""])
    writer.writerow(
        ["now", *(data["now"][s] for s in NAMES), sum(data["now"].values()), data["unstaged"]]
    )
    return out.getvalue()


async def customer_view(store: Lifecycle, customer_id: int) -> dict[str, Any]:
    """A customer's stage and the road that led there, for GET /v1/customers/{email}."""
    stage = await stage_of(store, customer_id)  # places them first if the backfill has not
    moves = await store.customer_road(customer_id)
    return {
        "stage": stage.value if stage else None,
        "road": [
            {"stage": m.stage.value, "at": m.at.isoformat(), "by": m.fact.kind} for m in moves
        ],
    }
