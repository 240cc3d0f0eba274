"""Where events enter: the API, the CLI, the webhooks and imports all come through here.

The model (daemon/intake/events.py) checks what an event says on its own; here, before anything is
recorded, what needs the clock or the store: a date within bounds of now, a referral that exists
and a status it can take. A refused event is never stored, so it can never stop a loop later.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.engine.inputs import when_problem
from daemon.intake.events import EventIn
from daemon.referrals import follow_up
from daemon.run.services import Services
from daemon.store import EventOutcome, Recorded
from daemon.store.events import Events
from daemon.store.referrals import Referrals


@dataclass(frozen=True)
class Refusal:
    field: str
    message: str


class Refused(ValueError):
    """An event that is well formed but cannot be accepted: each field named, in words."""

    def __init__(self, refusals: list[Refusal]) -> None:
        self.refusals = refusals
        super().__init__("; ".join(f"{r.field}: {r.message}" for r in refusals))


async def refusals(services: Services, event: EventIn) -> list[Refusal]:
    found = []
    if problem := when_problem(event.occurred_at, services.clock.now()):
        found.append(Refusal("occurred_at", problem))
    if event.type == "referral.status_changed":
        found += await _status_change(services, event)
    return found


async def _status_change(services: Services, event: EventIn) -> list[Refusal]:
    """Only the names are checked: whether the move is allowed depends on the referral's
    status when the event is planned (and a replay must be answered as before)."""
    store: Referrals = services.store
    found = []
    referral, status = event.data.get("referral"), event.data.get("status")
    moves = [s for s in follow_up.STATUSES if s != "new"]
    if not isinstance(referral, str) or not referral.strip():
        found.append(Refusal("data.referral", "required: the referral's id (r_...)"))
    elif await store.referral(referral) is None:
        found.append(Refusal("data.referral", f"no referral {referral!r}"))
    if status not in moves:
        found.append(Refusal("data.status", f"unknown status {status!r}: use {', '.join(moves)}"))
    return found


async def accept_event(services: Services, event: EventIn) -> EventOutcome:
    """Record the event (committed before returning); replays are answered as before.
    Raises Refused, recording nothing, when the event cannot be accepted."""
    store: Events = services.store
    if found := await refusals(services, event):
        raise Refused(found)
    outcome = await store.record_event(event, services.clock.now())
    if outcome.recorded is Recorded.NEW:
        # Unknown types share one label so a caller cannot grow the metric without bound.
        services.metrics.events.labels(event.type if event.known else "other").inc()
        services.nudge()  # the scheduler plans what the event calls for
    return outcome
