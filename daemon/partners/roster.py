"""Partners: businesses that refer clients to the owner and receive clients back.

A partner is an advocate with a trade (migration 8): its code, its introduce-a-friend form, its
referrals and their follow-up are the referral engine's own (referrals/follow_up.py, with the few
differences in daemon/partners/notes.py). Here is what only partners have: adding and changing
them, the clients the owner gives them and how that went, and the moment a partner joins an
organization. The CLI and the API both come through here, with the same checks and words.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from daemon.engine.asks import Moment
from daemon.engine.grades import Introduction
from daemon.engine.inputs import address, check_text
from daemon.mail.render import one_line
from daemon.partners import notes
from daemon.referrals import follow_up
from daemon.run.services import Services
from daemon.settings import Email, FreeText
from daemon.store.customers import Customers
from daemon.store.partners import Partners
from daemon.store.referrals import Referrals
from daemon.store.rows import (
    GivenClient,
    GivenReferral,
    NewPartner,
    Partner,
    PartnerEdit,
    Referral,
    StoredEvent,
)

log = logging.getLogger(__name__)

OUTCOMES = ("won", "lost")


class CustomersAndPartners(Customers, Partners, Protocol):
    """The store as `joined` uses it."""


class PartnerError(ValueError):
    """A partner, or a referral given to one, that cannot be found or changed, in words."""


def _line(value: str) -> str:
    value = one_line(check_text(value.strip()))
    if not value:
        raise ValueError("must not be empty")
    return value


Name = Annotated[str, Field(max_length=120), AfterValidator(_line)]
Text = Annotated[str, Field(max_length=300), AfterValidator(_line)]


class PartnerIn(BaseModel):
    """A new partner, as the owner describes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name = Field(description="the partner's business")
    email: Email = Field(description="where the partner reads our notes")
    trade: Text = Field(description="what they do")
    wants: Text = Field(description="the kind of client they want")
    contact: Name | None = Field(None, description="the person we write to")
    reward: bool = Field(False, description="their referrals earn the reward (default: none)")


class PartnerChange(BaseModel):
    """What to change about a partner; what is left out stays."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name | None = None
    trade: Text | None = None
    wants: Text | None = None
    contact: Name | None = None
    reward: bool | None = None


class ClientIn(BaseModel):
    """A client who goes from one business to the other: a name, an address, or both."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    client_name: Name | None = None
    client_email: Email | None = None
    note: FreeText | None = Field(
        None, max_length=1000, description="what they need, in a few words"
    )

    @model_validator(mode="after")
    def _someone(self) -> ClientIn:
        if not self.client_name and not self.client_email:
            raise ValueError("give the client's name, email address or both")
        return self


_ADDRESS = re.compile(r"<?\s*([^<>\s]+@[^<>\s]*)\s*>?")


def parse_client(text: str) -> dict[str, str]:
    """`Ann Lee <ann@example.com>`, `ann@example.com` or `Ann Lee` → client_name / client_email
    (the address checked; a bad one is a PartnerError naming it)."""
    found = _ADDRESS.search(text)
    fields = {}
    if found:
        try:
            fields["client_email"] = address(found.group(1))
        except ValueError as exc:
            raise PartnerError(f"{found.group(1)!r} is not an email address: {exc}") from None
        text = text[: found.start()] + text[found.end() :]
    name = one_line(text.strip().strip('"'))
    if name:
        fields["client_name"] = name
    return fields


async def add(services: Services, new: PartnerIn) -> Partner:
    store: Partners = services.store
    partner = await store.add_partner(NewPartner(**new.model_dump()), services.clock.now())
    if partner is None:
        (known,) = await store.partners_matching(new.email)
        raise PartnerError(f"{new.email} is already a partner: {known.name} ({known.public_id})")
    return partner


async def find(services: Services, ref: str) -> Partner:
    """A partner by its id (p_...), code, email address or business name."""
    store: Partners = services.store
    found = await store.partners_matching(ref.strip()) if ref.strip() else []
    if not found:
        raise PartnerError(
            f"no partner {ref!r}: give its id (p_...), code, email address or business name "
            "(`vouch partner list` shows them)"
        )
    if len(found) > 1:
        ids = ", ".join(p.public_id for p in found)
        raise PartnerError(f"{len(found)} partners match {ref!r} ({ids}): use the id")
    return found[0]


async def change(services: Services, partner: Partner, fields: PartnerChange) -> Partner:
    store: Partners = services.store
    return await store.update_partner(
        partner.id, PartnerEdit(**fields.model_dump()), services.clock.now()
    )


async def give(services: Services, partner: Partner, client: ClientIn) -> GivenReferral:
    """The owner sent a client to the partner."""
    store: Partners = services.store
    given = GivenClient(client.client_name, client.client_email, client.note)
    return await store.give_referral(partner.id, given, services.clock.now())


async def receive(
    services: Services, partner: Partner, client: ClientIn, *, expects_contact: bool
) -> Referral:
    """A client the partner sent by phone or in person, recorded by the owner: an ordinary
    referral (grade A: the partner made the introduction) with the ordinary follow-up."""
    store: Referrals = services.store
    advocate = await store.advocate(partner.advocate_id)
    assert advocate is not None
    intro = Introduction(
        friend_name=client.client_name,
        friend_email=client.client_email,
        friend_phone=None,
        need=client.note,
        timing=None,
        relationship=None,
        expects_contact=expects_contact and client.client_email is not None,
        advocate_introduces=True,
    )
    return await follow_up.introduce(services, advocate, intro, channel="owner")


async def close(
    services: Services, given: GivenReferral, status: str, value: float | None = None
) -> GivenReferral:
    """How a client the owner gave went: won or lost, once (the same news twice is no change)."""
    store: Partners = services.store
    if status not in OUTCOMES:
        raise PartnerError(f"unknown outcome {status!r}: use won or lost")
    if given.status == status and value is None:
        return given
    if given.status != "given" and given.status != status:
        raise PartnerError(f"{given.public_id} is {given.status}; it cannot become {status}")
    if value is not None and value < 0:
        raise PartnerError("value must be 0 or more")
    return await store.close_given(given.id, status, value, services.clock.now())


async def joined(services: Services, stored: StoredEvent) -> str:
    """`partner.joined_organization`: a moment to ask the partner for an introduction there,
    under the same cool-down and yearly cap as any ask; the decision is kept with its reason."""
    store: CustomersAndPartners = services.store
    ref = str(stored.data.get("partner") or stored.data.get("email") or "").strip()
    found = await store.partners_matching(ref) if ref else []
    if len(found) != 1:
        why = f"no partner {ref!r}" if not found else f"{len(found)} partners match {ref!r}"
        log.warning("event %s: %s; nothing sent", stored.id, why)
        return why
    customer = await store.customer(found[0].customer_id)
    assert customer is not None
    return await follow_up.consider(services, customer, Moment.PARTNER_JOINED, f"event:{stored.id}")


def partner_json(services: Services, partner: Partner) -> dict[str, Any]:
    return {
        "id": partner.public_id,
        "name": partner.name,
        "contact": partner.contact,
        "email": partner.email,
        "trade": partner.trade,
        "wants": partner.wants,
        "reward": partner.reward,
        "code": partner.code,
        "referral_url": services.url(f"/r/{partner.code}"),
        "introduce_url": services.url(f"/r/{partner.code}/introduce"),
        "label": notes.label(partner),
        "created_at": partner.created_at.isoformat(),
    }


def given_json(given: GivenReferral) -> dict[str, Any]:
    return {
        "id": given.public_id,
        "client": {"name": given.client_name, "email": given.client_email},
        "note": given.note,
        "status": given.status,
        "value": given.value,
        "created_at": given.created_at.isoformat(),
        "closed_at": given.closed_at.isoformat() if given.closed_at else None,
    }
