"""Whether and when a survey goes to a customer: never at the cash register, never too often,
never to someone who said no. Pure: the shell passes in the history and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from daemon.engine.window import SendWindow, next_in_window


class Timings(Protocol):
    """What the rules read of a survey: its timings, in days. The shell passes its survey
    definition (daemon.surveys.definitions.Survey, which the owner edits and the shell
    validates)."""

    @property
    def delay_days(self) -> float: ...
    @property
    def expiry_days(self) -> float: ...
    @property
    def throttle_days(self) -> float: ...
    @property
    def reminder_days(self) -> float: ...


@dataclass(frozen=True)
class History:
    """What the store knows about the customer that bears on a new survey."""

    suppressed: str | None  # the suppression reason, if any
    last_surveyed_at: datetime | None  # the latest survey due or sent to them, by any survey


@dataclass(frozen=True)
class Plan:
    due_at: datetime  # inside the send window
    expires_at: datetime


@dataclass(frozen=True)
class Skip:
    reason: str


def plan_invitation(
    survey: Timings,
    occurred_at: datetime,
    zone: ZoneInfo,
    window: SendWindow,
    history: History,
    now: datetime,
    *,
    any_age: bool = False,
) -> Plan | Skip:
    """The invitation for an event that triggers `survey`, or why there is none.

    any_age: the owner asked to survey past events now (`vouch import --survey-history`).
    """
    if history.suppressed:
        return Skip(f"address is suppressed ({history.suppressed})")
    life = timedelta(days=survey.expiry_days)
    wanted = occurred_at + timedelta(days=survey.delay_days)
    if not any_age and too_old(survey, occurred_at, now):
        return Skip(
            f"the event is older than the survey's life ({survey.expiry_days:g} days after "
            f"its {survey.delay_days:g}-day delay)"
        )
    due = next_in_window(max(wanted, now), zone, window)
    if history.last_surveyed_at is not None:
        quiet = timedelta(days=survey.throttle_days)
        if abs(due - history.last_surveyed_at) < quiet:
            return Skip(
                f"throttled: surveyed on {history.last_surveyed_at:%Y-%m-%d}, and no customer "
                f"gets a second survey within {survey.throttle_days:g} days"
            )
    return Plan(due_at=due, expires_at=due + life)


def too_old(survey: Timings, occurred_at: datetime, now: datetime) -> bool:
    """Whether the survey's life (its delay, then expiry_days) ended before now: history, not
    a moment to ask about."""
    wanted = occurred_at + timedelta(days=survey.delay_days)
    return wanted + timedelta(days=survey.expiry_days) <= now


def reminder_at(
    survey: Timings, sent_at: datetime, zone: ZoneInfo, window: SendWindow
) -> datetime | None:
    """When the one reminder goes to a customer who has not answered (None: no reminder)."""
    if survey.reminder_days <= 0:
        return None
    return next_in_window(sent_at + timedelta(days=survey.reminder_days), zone, window)
