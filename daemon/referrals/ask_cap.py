"""The daily cap on referral asks, applied: which due asks go now, which wait for the next day.

The rule is pure (daemon/engine/daily_cap.py); this module gathers today's asks and the
influence of their customers, records each wait or drop with its reason on the ask (the owner
sees it in `GET /v1/customers/{email}`), and hands back the asks to send now. "Today" is the
business's calendar day; an ask that waits moves to the next day's send window in the
customer's own time zone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from daemon.engine.daily_cap import Candidate, ration
from daemon.engine.window import next_in_window
from daemon.referrals import influence
from daemon.run.services import Services
from daemon.store.asks import Asks
from daemon.store.customers import Customers
from daemon.store.rows import AskRow

DAY_LIMIT = 10_000  # asks planned for one day that the cap ranks at once


class AsksAndCustomers(Asks, Customers, Protocol):
    """The store as `within_cap` uses it."""


async def within_cap(services: Services) -> list[AskRow]:
    store: AsksAndCustomers = services.store
    now = services.clock.now()
    settings = services.config.settings
    cap = settings.referrals.daily_ask_cap
    assert cap is not None
    business = ZoneInfo(settings.business.timezone)
    day = now.astimezone(business).date()
    start = datetime(day.year, day.month, day.day, tzinfo=business)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=business)
    planned = [(a, a.due_at) for a in await store.asks_planned_before(end, DAY_LIMIT) if a.due_at]
    if not any(due <= now for _, due in planned):
        return []
    scores = await influence.scores(services, {a.customer_id for a, _ in planned})
    decided = ration(
        [Candidate(a.id, due, a.created_at, scores[a.customer_id].score) for a, due in planned],
        now=now,
        cap=cap,
        sent_today=await store.asks_sent_between(start, end),
        next_day=end,
        moment_life=timedelta(days=settings.referrals.moment_life_days),
    )
    by_id = {a.id: a for a, _ in planned}
    window = settings.send_window.window()
    for ask_id, why in decided.hold.items():
        customer = await store.customer(by_id[ask_id].customer_id)
        assert customer is not None
        place = ZoneInfo(customer.timezone or settings.business.timezone)
        later = next_in_window(end, place, window)
        await store.update_ask(
            ask_id,
            state="scheduled",
            reason=f"{why} (next try {later:%Y-%m-%d %H:%M} UTC)",
            due_at=later,
        )
    for ask_id, why in decided.drop.items():
        await store.update_ask(ask_id, state="skipped", reason=why, due_at=None)
    return [by_id[ask_id] for ask_id in decided.send]
