"""Something for the friend too: the friend offer ([referrals.friend_offer], or the friend side
of the advocate's own offer in an offer test), shown on the landing and introduce pages and in
the friend's note, with the advocate's own friend code.

The code is the advocate's, made when first shown and kept; a purchase that carries it (as a
referral code, a Stripe metadata code or a Shopify discount code) is recorded as a redemption
and attributes the referral like the advocate's own code (daemon/referrals/attribution.py).
"""

from __future__ import annotations

from typing import Any, Protocol

from daemon.config import FriendOffer, Referrals
from daemon.referrals import offers
from daemon.run.services import Services
from daemon.store.friend_offers import FriendOffers
from daemon.store.offers import Offers
from daemon.store.partners import Partners
from daemon.store.rows import Advocate


class FriendOfferStore(FriendOffers, Offers, Partners, Protocol):
    """The store as the friend offer uses it."""


def offer_for(settings: Referrals, offer_id: str | None) -> FriendOffer | None:
    """The friend side of the advocate's offer when it has one, else [referrals.friend_offer]."""
    for offer in settings.offers:
        if offer.id == offer_id and offer.friend is not None:
            return offer.friend
    return settings.friend_offer


def prefix(settings: Referrals) -> str:
    """The codes' prefix: [referrals.friend_offer]'s, else the first offer test's friend side."""
    found = settings.friend_offer or next((o.friend for o in settings.offers if o.friend), None)
    return found.code_prefix if found else FriendOffer.model_fields["code_prefix"].default


def configured(settings: Referrals) -> bool:
    return settings.friend_offer is not None or any(o.friend for o in settings.offers)


async def shown(services: Services, advocate: Advocate) -> dict[str, Any] | None:
    """What the friend of this advocate is offered, with the advocate's friend code (made now
    if need be); None without a friend offer. For the pages and the friend's note: the text in
    the owner's words, or the percentage or amount (shown with the `percent` and `money`
    filters, daemon/money.py)."""
    settings = services.config.settings.referrals
    if not configured(settings):
        return None
    store: FriendOfferStore = services.store
    offer_id = None
    if settings.offers:  # an offer test: the friend side may be the advocate's offer's own
        partner = await store.partner_by_advocate(advocate.id)
        if partner is None or partner.reward:
            offer_id = (await offers.terms_for(services, advocate)).id
    offer = offer_for(settings, offer_id)
    if offer is None:
        return None
    code = await store.friend_code(advocate.id, prefix(settings), services.clock.now())
    return {
        "text": offer.text,
        "percent_off": offer.percent_off,
        "amount_off": offer.amount_off,
        "code": code,
    }
