"""What a partner hears that a customer does not, and how a partner is named.

The referral engine (referrals/follow_up.py) runs a partner's referrals as any advocate's and asks
here at the few points where a partner differs: its name ("Dana Lee at Harbor Physio"), whether
a win earns a reward or a plain thank-you (`partner_thanks`), and the note that asks a partner
who joined an organization to introduce the owner there (`partner_intro_ask`).
"""

from __future__ import annotations

from typing import Protocol

from daemon.mail.compose import queue_for_customer
from daemon.mail.render import one_line
from daemon.run.services import Services
from daemon.store.asks import Asks
from daemon.store.partners import Partners
from daemon.store.referrals import Referrals
from daemon.store.rows import Advocate, AskRow, Customer, Partner, Referral, Step


class AsksAndPartnersAndReferrals(Asks, Partners, Referrals, Protocol):
    """The store as `send_intro_ask` uses it."""


def label(partner: Partner) -> str:
    """The partner as the owner and friends know it: the person and the business."""
    return f"{one_line(partner.contact)} at {partner.name}" if partner.contact else partner.name


def greeting(partner: Partner) -> str:
    """Who a page thanks: the contact's first name, else the business."""
    return _first(partner) or partner.name


async def source_name(store: Partners, advocate: Advocate, customer: Customer) -> str | None:
    """The name the owner and the friend see for whoever made a referral."""
    partner = await store.partner_by_advocate(advocate.id)
    return label(partner) if partner else customer.name


async def rewarded(store: Partners, referral: Referral) -> bool:
    """Whether a won referral earns the reward: always for a customer, per partner for one."""
    partner = await store.partner_by_advocate(referral.advocate_id)
    return partner is None or partner.reward


async def thanks_on_win(store: Partners, referral: Referral) -> bool:
    """A partner without a reward is thanked for a win by its own note (the shared `won` step);
    everyone else is thanked by the email that carries the reward."""
    partner = await store.partner_by_advocate(referral.advocate_id)
    return partner is not None and not partner.reward and referral.flag is None


async def send_thanks(services: Services, step: Step, customer: Customer) -> None:
    store: Partners = services.store
    partner = await store.partner_by_advocate(step.referral.advocate_id)
    assert partner is not None
    await queue_for_customer(
        services,
        customer,
        kind="partner_thanks",
        context={
            "contact_name": _first(partner),
            "partner_name": partner.name,
            "friend_name": step.referral.friend_name,
            "note": step.note,
        },
        dedupe_key=f"referral-step:{step.id}",
    )


async def send_intro_ask(services: Services, ask: AskRow, customer: Customer) -> None:
    """The note for a partner who joined an organization; the ask is skipped, with the reason,
    when there is no longer a partner or an organization to name."""
    store: AsksAndPartnersAndReferrals = services.store
    advocate = await store.ensure_advocate(customer.id, services.clock.now())
    partner = await store.partner_by_advocate(advocate.id)
    organization = await store.organization_joined(ask.source.removeprefix("event:"))
    if partner is None or not organization:
        reason = "no partner with this address" if partner is None else "no organization named"
        await store.update_ask(ask.id, state="skipped", reason=reason, due_at=None)
        return
    await queue_for_customer(
        services,
        customer,
        kind="partner_intro_ask",
        context={
            "contact_name": _first(partner),
            "partner_name": partner.name,
            "organization": one_line(organization),
            "referral_url": services.url(f"/r/{partner.code}"),
            "introduce_url": services.url(f"/r/{partner.code}/introduce"),
        },
        dedupe_key=f"ask:{ask.id}",
    )
    await store.ask_sent(ask.id, services.clock.now())


def _first(partner: Partner) -> str | None:
    return one_line(partner.contact).split(" ")[0] if partner.contact else None
