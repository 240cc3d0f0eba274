"""Turn an email kind and its context into bytes (rendered, flattened and signed once), and
those bytes into an outbox row.

`message` and `customer_message` give the bytes alone: what the sender stores for a survey
rendered at claim (daemon/surveys/survey_email.py). `build_email` and `build_for_customer` wrap
them into a `NewEmail` for the emails that are queued already rendered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from daemon.mail.links import unsubscribe_headers, unsubscribe_url
from daemon.mail.outbox import NewEmail
from daemon.mail.render import Attachment, new_message_id
from daemon.run.services import Services
from daemon.store.base import Customer


async def enqueue(services: Services, email: NewEmail) -> int | None:
    """Into the outbox; None when this dedupe key was enqueued before (nothing is added)."""
    return await services.store.enqueue(email, services.clock.now())


def message(
    services: Services,
    *,
    kind: str,
    context: Mapping[str, Any],
    to_email: str,
    to_name: str | None,
    message_id: str,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    locale: str | None = None,
    personal: frozenset[str] = frozenset(),
) -> bytes:
    """One email's bytes, rendered and DKIM-signed. `personal` names the context values that
    differ per recipient in a batch: such emails come from a stamp (daemon/mail/stamp.py)."""
    envelope: dict[str, Any] = {
        "to_email": to_email,
        "to_name": to_name,
        "message_id": message_id,
        "headers": headers,
        "locale": locale,
    }
    if personal and not attachments:
        data = services.stamps.render(kind, context, personal=personal, **envelope)
    else:
        data = services.renderer.render(kind, context, attachments=attachments, **envelope).message
    dkim = services.config.dkim
    # signed once here: every retry sends these same bytes
    return dkim.sign(data, services.clock.now()) if dkim is not None else data


def customer_message(
    services: Services,
    customer: Customer,
    *,
    kind: str,
    context: Mapping[str, Any],
    message_id: str,
    attachments: Sequence[Attachment] = (),
    personal: frozenset[str] = frozenset(),
) -> bytes:
    """The bytes of an email to a customer: in their language, with their own unsubscribe
    link in the body and in the List-Unsubscribe headers."""
    link = unsubscribe_url(services, customer)
    return message(
        services,
        kind=kind,
        context={**context, "unsubscribe_url": link},
        to_email=customer.email,
        to_name=customer.name,
        message_id=message_id,
        headers=unsubscribe_headers(services, customer, link),
        attachments=attachments,
        locale=customer.locale,
        personal=personal | {"unsubscribe_url"} if personal else personal,
    )


def build_email(
    services: Services,
    *,
    kind: str,
    context: Mapping[str, Any],
    to_email: str,
    to_name: str | None = None,
    dedupe_key: str,
    not_before: datetime | None = None,
    customer_id: int | None = None,
    headers: Mapping[str, str] | None = None,
    attachments: Sequence[Attachment] = (),
    locale: str | None = None,
    personal: frozenset[str] = frozenset(),
) -> NewEmail:
    """Render (and DKIM-sign) one email into an outbox row, not yet stored."""
    message_id = new_message_id(services.config.message_id_domain)
    data = message(
        services,
        kind=kind,
        context=context,
        to_email=to_email,
        to_name=to_name,
        message_id=message_id,
        headers=headers,
        attachments=attachments,
        locale=locale,
        personal=personal,
    )
    return _row(services, kind, dedupe_key, to_email, message_id, data, not_before, customer_id)


def build_for_customer(
    services: Services,
    customer: Customer,
    *,
    kind: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    attachments: Sequence[Attachment] = (),
    personal: frozenset[str] = frozenset(),
) -> NewEmail:
    """`customer_message` as an outbox row, not yet stored."""
    message_id = new_message_id(services.config.message_id_domain)
    data = customer_message(
        services,
        customer,
        kind=kind,
        context=context,
        message_id=message_id,
        attachments=attachments,
        personal=personal,
    )
    return _row(services, kind, dedupe_key, customer.email, message_id, data, None, customer.id)


def _row(
    services: Services,
    kind: str,
    dedupe_key: str,
    recipient: str,
    message_id: str,
    data: bytes,
    not_before: datetime | None,
    customer_id: int | None,
) -> NewEmail:
    return NewEmail(
        dedupe_key=dedupe_key,
        kind=kind,
        recipient=recipient,
        envelope_from=services.config.settings.business.email,
        message_id=message_id,
        message=data,
        not_before=not_before or services.clock.now(),
        customer_id=customer_id,
    )
