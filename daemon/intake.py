"""Where events enter: the API, the CLI and imports all come through here."""

from __future__ import annotations

from daemon.events import EventIn
from daemon.services import Services
from daemon.store import EventOutcome, Recorded


async def accept_event(services: Services, event: EventIn) -> EventOutcome:
    """Record the event (committed before returning); replays are answered as before."""
    outcome = await services.store.record_event(event, services.clock.now())
    if outcome.recorded is Recorded.NEW:
        # Unknown types share one label so a caller cannot grow the metric without bound.
        services.metrics.events.labels(event.type if event.known else "other").inc()
        services.nudge()  # the scheduler plans what the event calls for
    return outcome
