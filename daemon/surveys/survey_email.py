"""Survey and reminder emails: queued unrendered by the scheduler, rendered when claimed.

A scheduler tick only decides which invitations go now and queues one outbox row each (the
recipient, a Message-ID, the invitation, an empty message): cheap writes, so a tick with
thousands due stays short. The sender renders those rows when it claims them (`render_claimed`),
in a fixed number of queries per claim, from a stamp (daemon/mail/stamp.py); it stores the bytes
before sending them, and every retry sends those bytes. A reminder whose customer has answered
since it was queued is cancelled instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from daemon.errors import VouchError
from daemon.mail.compose import customer_message
from daemon.mail.links import score_links, survey_url
from daemon.mail.outbox import Cancel, NewEmail, OutboxRow
from daemon.mail.render import new_message_id, one_line
from daemon.run.services import Services
from daemon.store.base import Customer, Invitation

log = logging.getLogger(__name__)

#: What differs between the survey emails of one survey: filled into a stamp (daemon/mail/stamp.py).
PERSONAL = frozenset({"customer_name", "scores", "survey_url"})


def first_name(customer: Customer) -> str | None:
    return one_line(customer.name).split(" ")[0] if customer.name else None


def queued(services: Services, kind: str, invitation: Invitation, customer: Customer) -> NewEmail:
    """The outbox row of a survey (kind "survey") or its reminder, without its message: the
    sender renders it when it claims the row, under the Message-ID chosen here."""
    config = services.config
    return NewEmail(
        dedupe_key=f"{kind}:{invitation.id}",
        kind=kind,
        recipient=customer.email,
        envelope_from=config.settings.business.email,
        message_id=new_message_id(config.message_id_domain),
        message=b"",
        not_before=services.clock.now(),
        customer_id=customer.id,
        invitation_id=invitation.id,
    )


def message(
    services: Services, kind: str, invitation: Invitation, customer: Customer, message_id: str
) -> bytes:
    """The bytes of the survey (or reminder) email of one invitation, from a stamp, signed."""
    survey = services.config.surveys[invitation.survey]
    words = survey.words(services.renderer.language(kind, customer.locale))
    return customer_message(
        services,
        customer,
        kind=kind,
        context={
            "customer_name": first_name(customer),
            "question": services.renderer.survey_question(words.question),
            "low_label": words.low_label,
            "high_label": words.high_label,
            "scores": score_links(services, invitation),
            "survey_url": survey_url(services, invitation),
        },
        message_id=message_id,
        personal=PERSONAL,
    )


async def render_claimed(
    services: Services, rows: Sequence[OutboxRow]
) -> dict[int, bytes | str | Cancel]:
    """The messages of claimed unrendered rows by row id, or why one could not be rendered
    (the sender keeps that row and tries again later), or that it is no longer to be sent (a
    reminder to a customer who has answered since it was queued): two queries a claim."""
    store = services.store
    invitations = await store.invitations(r.invitation_id for r in rows if r.invitation_id)
    customers = await store.customers(i.customer_id for i in invitations.values())
    rendered: dict[int, bytes | str | Cancel] = {}
    for row in rows:
        try:
            rendered[row.id] = _render(services, row, invitations, customers)
        except Exception as exc:  # an owner's template can raise anything: keep the row
            reason = str(exc) if isinstance(exc, VouchError) else f"{type(exc).__name__}: {exc}"
            log.warning("email %d (%s): could not render: %s", row.id, row.kind, reason)
            rendered[row.id] = reason
        await services.pressure.lull()  # CPU work on the event loop: requests first
    return rendered


def _render(
    services: Services,
    row: OutboxRow,
    invitations: Mapping[int, Invitation],
    customers: Mapping[int, Customer],
) -> bytes | Cancel:
    invitation = invitations.get(row.invitation_id or 0)
    if invitation is None:
        raise LookupError(f"invitation {row.invitation_id} no longer exists")
    if row.kind == "reminder" and invitation.state == "answered":
        return Cancel("the customer answered before the reminder went out")
    if row.kind == "reminder" and invitation.replied_at is not None:
        return Cancel("the customer replied to the survey before the reminder went out")
    customer = customers.get(invitation.customer_id)
    if customer is None:
        raise LookupError(f"customer {invitation.customer_id} no longer exists")
    if customer.email.lower() != row.recipient.lower():
        raise LookupError(f"the customer's address is no longer {row.recipient}")
    if invitation.survey not in services.config.surveys:
        raise LookupError(f"survey {invitation.survey!r} is no longer in surveys/")
    return message(services, row.kind, invitation, customer, row.message_id)
