"""Attribution's shell: a referred friend's purchase or completed project credits the referral.

Called when a purchase.completed or project.completed event is planned (daemon/run/scheduler.py),
whichever way it came (`POST /v1/events`, the Stripe and Shopify webhooks, `vouch import`): events
are planned once per id, and a won referral is never credited again, so a purchase that arrives
twice credits once. The rule is pure (daemon/engine/attribution.py). What matched is recorded on
the referral (the owner sees it); with "auto" the win goes through `follow_up.change_status`, so
the advocate hears of it and is rewarded as when the owner moves it; with "confirm" the dashboard
offers the owner that same move in one click. The friend offer's code counts as its advocate's
code, and its redemption is recorded (daemon/referrals/friend_offers.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Protocol

from daemon.engine.attribution import (
    CodeOwner,
    Create,
    Credit,
    NoCredit,
    Purchase,
    decide,
)
from daemon.engine.grades import Introduction
from daemon.referrals import follow_up, friend_offers
from daemon.run.services import Services
from daemon.store.customers import Customers
from daemon.store.friend_offers import FriendOffers, Redemption
from daemon.store.referrals import Referrals
from daemon.store.rows import Advocate, Customer, NewReferral, Referral, StoredEvent

log = logging.getLogger(__name__)

PURCHASES = ("purchase.completed", "project.completed")
#: Stripe's zero-decimal currencies: their amounts are whole units, not hundredths.
WHOLE = frozenset(
    [
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    ]
)


class AttributionStore(Customers, FriendOffers, Referrals, Protocol):
    """The store as `credit` uses it."""


async def credit(services: Services, stored: StoredEvent, buyer: Customer) -> str | None:
    """Credit the referral this purchase earns, by the owner's `referrals.attribution`; returns
    what was decided, in words (None when attribution is off or the event is no purchase)."""
    settings = services.config.settings.referrals
    if stored.type not in PURCHASES:
        return None
    store: AttributionStore = services.store
    if settings.attribution == "off":
        if friend_offers.configured(settings):
            _, advocate, friend_code = await _code_owner(store, stored.data)
            if advocate is not None and friend_code is not None:
                await _redeemed(services, stored, buyer, advocate, friend_code, None, "off")
        return None
    candidates, first = await store.attribution_facts(buyer.email, stored.id)
    code, advocate, friend_code = await _code_owner(store, stored.data)
    owner = None
    if advocate is not None:
        customer = await store.customer(advocate.customer_id)
        assert customer is not None
        owner = CodeOwner(advocate.id, customer.email)
    purchase = Purchase(buyer.email, stored.occurred_at, code, first)
    window = timedelta(days=settings.attribution_window_days)
    decided = decide(purchase, candidates, owner, window)
    if isinstance(decided, NoCredit):
        log.info("event %s credits no referral: %s", stored.id, decided.reason)
        if advocate is not None and friend_code is not None:
            await _redeemed(services, stored, buyer, advocate, friend_code, None, decided.reason)
        return decided.reason
    if isinstance(decided, Create):
        assert advocate is not None
        # the friend offer's code: the funnel's "offer" channel (daemon/engine/funnel.py)
        via = "offer" if friend_code is not None else None
        referral = await _by_code(services, advocate, buyer, stored, via)
    else:
        assert isinstance(decided, Credit)
        found = await store.referral_by_id(decided.referral_id)
        assert found is not None
        referral = found
    amount = value(stored.data)
    note = f"{stored.type} {stored.id}: {decided.reason}"
    if friend_code is not None and advocate is not None:
        note += f" (the friend offer's code {friend_code})"
        await _redeemed(services, stored, buyer, advocate, friend_code, referral.id, note)
    if not await store.attribute(referral.id, note, amount):
        return "already attributed"  # the same purchase planned again after a crash
    if settings.attribution == "auto":
        await follow_up.change_status(services, referral, "won", value=amount)  # the owner's
        # step, without a note: what matched is for the owner (on the referral), not the advocate
    log.info("event %s attributed to referral %s: %s", stored.id, referral.public_id, note)
    return note


#: What is looked up of a purchase's codes: a list of codes is a handful, and none of ours is
#: longer (an integration's odd data costs a few queries, never thousands).
_MOST_CODES, _LONGEST_CODE = 20, 64


async def _code_owner(
    store: AttributionStore, data: dict[str, Any]
) -> tuple[str | None, Advocate | None, str | None]:
    """The first code the purchase carried that is an advocate's, or an advocate's friend code
    (daemon/referrals/friend_offers.py): `referral_code`, then any discount code (Shopify).
    Returns the advocate's referral code, the advocate, and the friend code if that matched."""
    listed = data.get("discount_codes")
    codes = [data.get("referral_code"), *(listed[:_MOST_CODES] if isinstance(listed, list) else [])]
    for code in codes:
        if isinstance(code, str) and 0 < len(code.strip()) <= _LONGEST_CODE:
            advocate = await store.advocate_by_code(code.strip())
            if advocate is not None:
                return advocate.code, advocate, None
            owner = await store.friend_code_owner(code)
            advocate = await store.advocate(owner) if owner is not None else None
            if advocate is not None:
                return advocate.code, advocate, code.strip().upper()
    return None, None, None


async def _redeemed(
    services: Services,
    stored: StoredEvent,
    buyer: Customer,
    advocate: Advocate,
    code: str,
    referral_id: int | None,
    outcome: str,
) -> None:
    """A purchase carried a friend code: recorded once per event, with what it credited."""
    store: AttributionStore = services.store
    redemption = Redemption(
        stored.id,
        advocate.id,
        buyer.id,
        code,
        referral_id,
        "attribution is off" if outcome == "off" else outcome,
        value(stored.data),
        stored.occurred_at,
    )
    if await store.record_redemption(redemption):
        log.info("event %s redeemed the friend offer's code %s", stored.id, code)


async def _by_code(
    services: Services, advocate: Advocate, buyer: Customer, stored: StoredEvent, via: str | None
) -> Referral:
    """A purchase with an advocate's code and no introduction: the code was the introduction
    (grade B: the friend asked and came), dated when the purchase happened."""
    store: Referrals = services.store
    intro = Introduction(buyer.name, buyer.email, None, None, None, None, False, False)
    new = NewReferral(advocate.id, intro, "B", "code", None, buyer.id, via)
    return await store.add_referral(new, stored.occurred_at)


def value(data: dict[str, Any]) -> float | None:
    """The purchase's amount in the currency's units (Stripe's come in its smallest unit)."""
    amount = data.get("amount")
    try:
        number = float(amount) if isinstance(amount, int | float | str) else None
    except ValueError:
        return None
    if number is None or number != number or number < 0:
        return None
    cents = data.get("source") == "stripe" and str(data.get("currency")).lower() not in WHOLE
    return number / 100 if cents else number
