"""Whether the daemon is doing its job: what `/healthz` answers (503 with the reasons) and what
`/metrics` exposes.

Four things make it unhealthy:
- a loop (the scheduler, the sender) that has not completed a pass for `STALE_AFTER`: it is
  stuck, or fails as a whole each time (the last error is given);
- a store that cannot write (disk full, I/O error): found by a small write at each check;
- sending paused because the relay refuses us (`Store.sending_pause`: kept in the store, so
  every process sees the pause the sender recorded);
- rendering paused because the owner's files saved last cannot be loaded (`config_problem`).

Times come from the caller (the injected clock), so tests move a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from daemon.errors import StoreUnavailable
from daemon.store.interface import Upkeep
from daemon.store.outbox import Outbox

if TYPE_CHECKING:
    from daemon.mail.outbox import Pause

#: A loop passes every second or so when idle (sender.poll_seconds is at most 60); five minutes
#: without a completed pass means it is stuck or failing.
STALE_AFTER = timedelta(minutes=5)


class OutboxAndUpkeep(Outbox, Upkeep, Protocol):
    """The store as `check` uses it."""


@dataclass
class Loop:
    started: datetime
    passed: datetime | None = None
    error: str | None = None  # why the latest pass did not complete


@dataclass(frozen=True)
class Report:
    problems: list[str]
    loops: dict[str, Loop]
    store_error: str | None
    paused: Pause | None

    @property
    def healthy(self) -> bool:
        return not self.problems


@dataclass
class Health:
    stale_after: timedelta = STALE_AFTER
    loops: dict[str, Loop] = field(default_factory=dict)
    #: why this process renders nothing: the owner's latest files could not be loaded
    config_problem: str | None = None

    def watch(self, loop: str, now: datetime) -> None:
        """A loop starts: from now on it is expected to complete passes."""
        self.loops[loop] = Loop(started=now)

    def passed(self, loop: str, now: datetime) -> None:
        if state := self.loops.get(loop):  # only loops that run are watched (not a CLI's)
            state.passed, state.error = now, None

    def failed(self, loop: str, error: str) -> None:
        """A pass that did not complete (its work is tried again on the next)."""
        if state := self.loops.get(loop):
            state.error = error

    async def check(
        self, store: OutboxAndUpkeep, now: datetime, *, detailed: bool = True
    ) -> Report:
        """`detailed`: with each stuck loop's last error. An error can quote a customer's data,
        so /healthz, which anyone may call, gives it only to a caller with the admin token."""
        problems = []
        for name, loop in sorted(self.loops.items()):
            since = loop.passed or loop.started
            if now - since > self.stale_after:
                what = "has not completed a pass" if loop.passed else "has completed no pass"
                problem = f"{name} {what} since {since:%Y-%m-%dT%H:%M:%SZ}"
                if detailed and loop.error:
                    problem += f" (last error: {loop.error})"
                problems.append(problem)
        store_error = paused = None
        try:
            await store.write_probe()
            paused = await store.sending_pause()
        except StoreUnavailable as exc:
            store_error = str(exc)
            problems.append(f"the store cannot write: {exc}")
        if paused is not None:
            problems.append(f"sending is paused: {paused.reason}")
        if self.config_problem is not None:
            problems.append(self.config_problem)
        return Report(problems, dict(self.loops), store_error, paused)
