"""Attribution: which referral a friend's purchase credits, and why; or why none.

Pure: the shell (daemon/referrals/attribution.py) gathers the facts and acts on the answer.

The rule between advocates, in order:
1. A referral of this buyer's already won, or already matched by a purchase (waiting for the
   owner's click), ends it: a referral is credited once, and a friend credits one advocate.
2. Only referrals introduced before the purchase and within the owner's window count.
3. A self-referral (the buyer is the advocate) and an existing customer (a purchase of the buyer's
   earlier than the referral) are never credited.
4. An explicit code (carried with the purchase) beats an address match; between two of the same
   kind, the referral introduced first wins (then the lower id).
5. No referral matched but a code of another customer's was used: a new referral is made
   (grade B, channel "code") and credited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Purchase:
    buyer_email: str  # normalised (lower case)
    occurred_at: datetime
    code: str | None  # the referral code the purchase carried, if any
    first_purchase: datetime | None  # the buyer's earliest other purchase or project, if any


@dataclass(frozen=True)
class Candidate:
    """A referral whose friend is the buyer: the purchase may credit it."""

    referral_id: int
    advocate_email: str
    code: str  # its advocate's
    status: str
    created_at: datetime
    attributed: bool = False  # a purchase already matched it


@dataclass(frozen=True)
class CodeOwner:
    """The advocate whose code the purchase carried."""

    advocate_id: int
    email: str


@dataclass(frozen=True)
class Credit:
    referral_id: int
    reason: str


@dataclass(frozen=True)
class Create:
    advocate_id: int
    reason: str


@dataclass(frozen=True)
class NoCredit:
    reason: str


def decide(
    purchase: Purchase,
    candidates: list[Candidate],
    code_owner: CodeOwner | None,
    window: timedelta,
) -> Credit | Create | NoCredit:
    """Apply the rule in the module's docstring."""
    if any(c.status == "won" or c.attributed for c in candidates):
        return NoCredit("a referral for this friend was already credited")
    in_window = [
        c
        for c in candidates
        if c.status != "lost"
        and c.created_at <= purchase.occurred_at
        and purchase.occurred_at - c.created_at <= window
    ]
    if not in_window and code_owner is None:
        if candidates:
            return NoCredit("no referral of this friend's within the attribution window")
        return NoCredit("no referral for this friend")
    refusals = []
    eligible = []
    for c in in_window:
        why = _never(purchase, c.advocate_email, c.created_at)
        if why:
            refusals.append(why)
        else:
            eligible.append(c)
    if eligible:
        by_code = [c for c in eligible if purchase.code and c.code == purchase.code]
        pool = by_code or eligible
        chosen = min(pool, key=lambda c: (c.created_at, c.referral_id))
        how = "the referral code it carried" if by_code else "the friend's address"
        since = f"{chosen.created_at:%Y-%m-%d}"
        return Credit(chosen.referral_id, f"matched by {how}; introduced {since}")
    if refusals:
        return NoCredit(refusals[0])
    if code_owner is not None:
        why = _never(purchase, code_owner.email, purchase.occurred_at)
        if why:
            return NoCredit(why)
        return Create(code_owner.advocate_id, "an advocate's code with no introduction")
    return NoCredit("no referral for this friend")


def _never(purchase: Purchase, advocate_email: str, introduced: datetime) -> str | None:
    if advocate_email.lower() == purchase.buyer_email.lower():
        return "self-referral: the buyer is the advocate"
    if purchase.first_purchase is not None and purchase.first_purchase < introduced:
        return "an existing customer: they bought before the referral"
    return None
