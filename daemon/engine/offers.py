"""Offer tests: which incentive an advocate is promised.

The owner may define several offers (`[[referrals.offers]]`); each advocate gets one at random
when first asked, and keeps it: the shell stores the assignment with the terms as they stood
(the text, the reward, the choices), so retiring, adding or editing offers later never changes
what someone was promised. The pick itself is deterministic, an HMAC of the advocate's code
with a per-install secret: uniform over the active offers, unpredictable to outsiders, and the
same if it is ever recomputed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

STANDARD = "standard"  # the one offer made from [referrals.incentive] when no offers are listed


@dataclass(frozen=True)
class Terms:
    """One offer: what the ask says, what a win earns, the gifts the advocate may choose from."""

    id: str
    text: str | None
    reward: str
    choices: tuple[str, ...] = ()
    retired: bool = False


GIFT = "gift"  # a reward issued without a code: the owner gives it (a donation, a present)


def issued(
    terms: Terms, chosen: str | None, kind: str, voucher_choices: Sequence[str]
) -> tuple[str, str]:
    """What a won referral earns, as the advocate was promised and chose: (description, how it
    is issued: "generated", "pool" or GIFT). With kind "choice" the chosen gift is the reward,
    with a code only if it is one of `voucher_choices`; a choice is never swapped for a code."""
    gift = chosen if chosen in terms.choices else None
    if kind != "choice":  # choices offered under a code kind are refused by `vouch check`; an
        # advocate promised choices before the owner changed the kind still gets what they chose
        return (terms.reward, kind) if gift in (None, terms.reward) else (gift, GIFT)
    reward = gift or terms.reward
    return reward, "generated" if reward in voucher_choices else GIFT


def pick(secret: str, advocate_code: str, offers: Sequence[Terms]) -> Terms:
    """The offer for a new advocate: uniform over the offers not retired."""
    active = [offer for offer in offers if not offer.retired]
    if not active:
        raise ValueError("every offer is retired: at least one must stay open")
    digest = hmac.new(
        secret.encode(), b"vouch-offer:" + advocate_code.encode(), hashlib.sha256
    ).digest()
    # 64 bits modulo a handful of offers: the bias is below 1e-17.
    return active[int.from_bytes(digest[:8], "big") % len(active)]
