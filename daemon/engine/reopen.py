"""Whether a closed referral may be reopened: a won or lost marked by mistake, noticed soon.

Pure: the referral's facts in, the reason it may not be reopened (in the owner's words) out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

CLOSED = ("won", "lost")


def why_not(
    status: str,
    closed_at: datetime | None,
    reward_state: str | None,
    now: datetime,
    window: timedelta,
    told: bool,
) -> str | None:
    """None if the referral may be reopened now, else why not. `told`: the advocate has had
    the win's own email (a partner's thank-you)."""
    days = f"{window.total_seconds() / 86400:g} day{'' if window == timedelta(days=1) else 's'}"
    if status not in CLOSED:
        return f"it is {status}, not won or lost: there is nothing to reopen"
    if closed_at is None or now - closed_at > window:
        when = f" on {closed_at:%Y-%m-%d}" if closed_at else ""
        return (
            f"it was marked {status}{when}, more than {days} ago; a referral can be reopened "
            f"only within {days} of being marked won or lost (referrals.reopen_days)"
        )
    if reward_state == "issued":
        return "its reward has been given to the advocate, and a given reward cannot be taken back"
    if told:
        return "the advocate has been thanked for the win, and that email cannot be taken back"
    return None
