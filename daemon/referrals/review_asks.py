"""Review asks: a promoter's answer plans an email asking for a public review on the owner's
review sites ([reviews] ask = true), and the scheduler sends it when due.

The decision is pure (daemon/engine/review_asks.py) and made again when the ask is due. The
email's links go through Vouch's own redirect (/review/{token}: a signed token naming the ask
and the site), so the owner sees which sites were clicked. A click is held as pending and
judged by the same rule as a survey score's click (daemon/engine/clicks.py): mail scanners open
every link of a message within seconds, so different sites of one ask clicked within
`answers.click_confirm_seconds` of each other are a scanner's, and a HEAD request (a link
checker) is never recorded at all.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from daemon.engine.clicks import judge
from daemon.engine.review_asks import ReviewHistory, refusal
from daemon.engine.segments import Segment, segment
from daemon.engine.window import in_window, next_in_window
from daemon.mail.compose import queue_for_customer
from daemon.mail.tokens import review_token
from daemon.owner.report import month_starts
from daemon.referrals.follow_up import first_name, zone
from daemon.run import isolation
from daemon.run.services import Services
from daemon.store.asks import Asks
from daemon.store.customers import Customers
from daemon.store.reviews import ReviewAsk, ReviewAsks, ReviewClick
from daemon.store.rows import Answer

log = logging.getLogger(__name__)

BATCH = 200
PATH = "/review/"


class ReviewStore(Asks, Customers, ReviewAsks, Protocol):
    """The store as the review asks use it."""


async def plan(services: Services, answer: Answer, response_id: int) -> None:
    """A promoter's answer plans a review ask `ask_delay_days` later, in the send window (when
    the owner switched review asks on). An answer reported long after it was given (an import
    of past answers) plans none: the moment has passed."""
    settings = services.config.settings.reviews
    if not settings.ask or segment(answer.score) is not Segment.PROMOTER:
        return
    store: ReviewStore = services.store
    now = services.clock.now()
    due = answer.answered_at + timedelta(days=settings.ask_delay_days)
    if due < now - timedelta(days=1):
        return
    customer = await store.customer(answer.customer_id)
    if customer is None:
        return
    window = services.config.settings.send_window.window()
    due = next_in_window(max(due, now), zone(services, customer), window)
    await store.plan_review_ask(customer.id, f"response:{response_id}", due, now)


async def send_due(services: Services) -> int:
    """The review asks due now: each decided again, then queued (or skipped with its reason)."""
    store: ReviewStore = services.store
    due = await store.due_review_asks(services.clock.now(), BATCH)
    await isolation.each(
        services,
        "review ask",
        due,
        lambda ask: _send(services, ask),
        key=lambda ask: ask.id,
        customer=lambda ask: ask.customer_id,
    )
    return len(due)


async def _send(services: Services, ask: ReviewAsk) -> None:
    store: ReviewStore = services.store
    now = services.clock.now()
    settings = services.config.settings.reviews
    if not settings.ask:
        await store.skip_review_ask(ask.id, "review asks were switched off (reviews.ask)")
        return
    customer = await store.customer(ask.customer_id)
    assert customer is not None
    suppressed, complaints, latest, _ = await store.ask_facts(customer.id)
    history = ReviewHistory(
        suppressed, complaints, latest, await store.last_review_ask(ask.customer_id)
    )
    reason = refusal(history, timedelta(days=settings.ask_cool_down_days), now)
    if reason:
        log.info("no review ask for customer %d: %s", customer.id, reason)
        await store.skip_review_ask(ask.id, reason)
        return
    place: ZoneInfo = zone(services, customer)
    window = services.config.settings.send_window.window()
    if not in_window(now, place, window):
        await store.move_review_ask(ask.id, next_in_window(now, place, window))
        return
    sites = [{"name": site.name, "url": site.url} for site in settings.sites]
    await queue_for_customer(
        services,
        customer,
        kind="review_ask",
        context={
            "customer_name": first_name(customer),
            "sites": [
                {"name": site["name"], "url": link(services, ask.public_id, n)}
                for n, site in enumerate(sites)
            ],
        },
        dedupe_key=f"review-ask:{ask.id}",
    )
    await store.review_ask_sent(ask.id, sites, now)


def link(services: Services, public_id: str, site: int) -> str:
    """The link to one site of one review ask, through Vouch's redirect."""
    return services.url(PATH + review_token(services.signer, public_id, site))


async def judge_clicks(services: Services) -> int:
    """Pending clicks on review links, judged by the survey links' rule (clicks.judge)."""
    store: ReviewStore = services.store
    now = services.clock.now()
    window = timedelta(seconds=services.config.settings.answers.click_confirm_seconds)
    pending = await store.pending_review_clicks(BATCH)
    decided = 0
    for ask_id, clicks in pending.items():
        verdict = judge(clicks, now, window)
        if verdict.scanner:
            log.info(
                "review ask %d: %d clicks looked like a mail scanner's",
                ask_id,
                len(verdict.scanner),
            )
        await store.settle_review_clicks(verdict.scanner, verdict.settled)
        decided += len(verdict.settled)
    return decided


#: What the review asks have due, each a sweep of the scheduler's tick.
SWEEPS = {"review asks": send_due, "review clicks": judge_clicks}


# the report ------------------------------------------------------------------------------------


def report(
    sent: Iterable[datetime],
    clicks: Iterable[ReviewClick],
    timezone: str,
    now: datetime,
    months: int,
) -> dict[str, Any]:
    """Review asks sent and people's clicks per site, overall and per calendar month (in the
    business's time zone, the last `months`, oldest first). A person who clicked one site of
    one ask several times counts once there."""
    place = ZoneInfo(timezone)
    labels = [f"{start:%Y-%m}" for start in month_starts(now, timezone, months)[:-1]]
    sent = list(sent)
    clicks = list(clicks)
    asks_by_month = Counter(f"{at.astimezone(place):%Y-%m}" for at in sent)
    by_site = Counter(c.site_name for c in clicks)
    by_month: dict[str, Counter[str]] = {label: Counter() for label in labels}
    for c in clicks:
        label = f"{c.at.astimezone(place):%Y-%m}"
        if label in by_month:
            by_month[label][c.site_name] += 1
    sites = sorted(by_site, key=lambda name: (-by_site[name], name))
    return {
        "generated_at": now.astimezone(place).isoformat(),
        "timezone": timezone,
        "asks": len(sent),
        "clicks": sum(by_site.values()),
        "sites": [{"site": name, "clicks": by_site[name]} for name in sites],
        "months": [
            {
                "month": label,
                "asks": asks_by_month.get(label, 0),
                "clicks": sum(by_month[label].values()),
                "sites": dict(sorted(by_month[label].items())),
            }
            for label in labels
        ],
    }


async def from_store(services: Services, months: int) -> dict[str, Any]:
    store: ReviewAsks = services.store
    return report(
        await store.review_asks_sent(),
        await store.review_clicks(),
        services.config.settings.business.timezone,
        services.clock.now(),
        months,
    )


def table(data: dict[str, Any]) -> str:
    """The report as text for the terminal."""
    lines = [f"Review asks sent: {data['asks']}; sites clicked by people: {data['clicks']}"]
    if data["sites"]:
        lines.append("")
        lines.append(f"{'site':<24} {'clicks':>6}")
        lines += [f"{s['site']:<24} {s['clicks']:>6}" for s in data["sites"]]
    lines.append("")
    lines.append(f"{'month':<8} {'asks':>5} {'clicks':>6}  by site")
    for m in data["months"]:
        by_site = ", ".join(f"{name} {n}" for name, n in m["sites"].items())
        lines.append(f"{m['month']:<8} {m['asks']:>5} {m['clicks']:>6}  {by_site}".rstrip())
    return "\n".join(lines) + "\n"
