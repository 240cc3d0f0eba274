"""The referral funnel (daemon/engine/funnel.py) from the store, and what records it: a
thank-you page's share links and a friend offer shown, a referral link opened.

JSON (`vouch report funnel --format json`)::

    {
      "currency": "USD", "timezone": "America/Chicago",
      "channels": [{"id": "ask", "name": "Ask email"}, ...],   # ask, thanks, qr, offer
      "months": [{"month": "2026-03", "channels": {"ask": STEPS, ...}}, ...],  # oldest first
      "totals": {"ask": STEPS, ...}
    }
    STEPS = {"shown": 40, "opened": 12, "introductions": 5, "purchases": 2, "value_won": 4100.0}
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from daemon.engine import findings
from daemon.engine import funnel as rules
from daemon.money import Money
from daemon.owner.report import month_starts
from daemon.run.services import Services
from daemon.store.funnel import Funnel


async def shown(
    services: Services, advocate_id: int, *channels: str, at: datetime | None = None
) -> None:
    """Something the funnel counts as shown: a thank-you page's share links (and its QR), or
    a friend offer (`at`: the instant of the landing page's opening, to judge them together)."""
    store: Funnel = services.store
    for channel in channels:
        await store.record_funnel_step(
            advocate_id, channel, "shown", None, at or services.clock.now()
        )


async def opened(
    services: Services, advocate_id: int, channel: str | None, link: str, at: datetime
) -> None:
    """A referral link fetched with its channel (none: not counted)."""
    if channel is not None:
        store: Funnel = services.store
        await store.record_funnel_step(advocate_id, channel, "opened", link, at)


async def from_store(services: Services, months: int) -> dict[str, Any]:
    store: Funnel = services.store
    settings = services.config.settings
    timezone, now = settings.business.timezone, services.clock.now()
    starts = month_starts(now, timezone, months)
    since = starts[0]
    steps = await store.funnel_steps(since)
    opened = [
        rules.Opened(n, s.advocate_id, s.channel, s.link or "landing", s.at)
        for n, s in enumerate(steps)
        if s.step == "opened"
    ]
    window = timedelta(seconds=settings.answers.click_confirm_seconds)
    people = rules.people(opened, now, window)
    shown = [rules.Shown(s.advocate_id, s.channel, s.at) for s in steps if s.step == "shown"]
    made = [
        rules.Made(r.via, r.created_at, r.attributed, r.won, r.value)
        for r in await store.funnel_referrals(since)
    ]
    data = rules.report(
        [f"{start:%Y-%m}" for start in starts[:-1]],
        timezone,
        await store.asks_sent_since(since),
        rules.shown_to_people(shown, opened, people),
        people,
        made,
    )
    return {"currency": settings.business.currency, **data}


def table(data: dict[str, Any], money: Money) -> str:
    """The funnel for a terminal: the sentences, the totals per channel, then each month."""
    lines = ["Referral funnel", "", *findings.said(findings.funnel(data, money)), ""]
    header = f"{'':<16} {'shown':>6} {'opened':>6} {'intros':>6} {'bought':>6} {'won':>12}"
    lines += [header, "-" * len(header)]
    for c in data["channels"]:
        lines.append(_row(c["name"], data["totals"][c["id"]], money))
    for m in data["months"]:
        if not any(any(v for v in s.values()) for s in m["channels"].values()):
            continue
        lines += ["", m["month"]]
        for c in data["channels"]:
            lines.append(_row("  " + c["name"], m["channels"][c["id"]], money))
    lines += [
        "",
        "shown: asks sent, thank-you pages shown with their share links and QR, friend offers "
        "shown; opened: referral links opened by people (not mail scanners); intros, bought "
        "and won: the referrals made in the month by that channel.",
    ]
    return "\n".join(lines) + "\n"


def _row(name: str, s: dict[str, Any], money: Money) -> str:
    return (
        f"{name:<16} {s['shown']:>6} {s['opened']:>6} {s['introductions']:>6} "
        f"{s['purchases']:>6} {money(s['value_won']):>12}"
    )
