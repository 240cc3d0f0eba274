"""Turn an email kind and its context into an outbox row: rendered and flattened once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from daemon.mail.links import unsubscribe_headers, unsubscribe_url
from daemon.mail.outbox import NewEmail
from daemon.mail.render import Attachment, new_message_id
from daemon.run.services import Services
from daemon.store.rows import Customer


async def enqueue(services: Services, email: NewEmail) -> int | None:
    """Into the outbox; None when this dedupe key was enqueued before (nothing is added)."""
    return await services.store.enqueue(email, services.clock.now())


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
    message_id: str | None = None,
) -> NewEmail:
    """Render (and DKIM-sign) one email into an outbox row, not yet stored. `personal` names
    the context values that differ per recipient in a batch: such emails come from a stamp.
    `message_id`: the one chosen when the row was queued unrendered (else a new one)."""
    config = services.config
    message_id = message_id or new_message_id(config.message_id_domain)
    envelope: dict[str, Any] = {
        "to_email": to_email,
        "to_name": to_name,
        "message_id": message_id,
        "headers": headers,
        "locale": locale,
    }
    if personal and not attachments:
        message = services.stamps.render(kind, context, personal=personal, **envelope)
    else:
        rendered = services.renderer.render(kind, context, attachments=attachments, **envelope)
        message = rendered.message
    now = services.clock.now()
    if config.dkim is not None:  # signed once here: every retry sends these same bytes
        message = config.dkim.sign(message, now)
    return NewEmail(
        dedupe_key=dedupe_key,
        kind=kind,
        recipient=to_email,
        envelope_from=config.settings.business.email,
        message_id=message_id,
        message=message,
        not_before=not_before or now,
        customer_id=customer_id,
    )


def build_for_customer(
    services: Services,
    customer: Customer,
    *,
    kind: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    attachments: Sequence[Attachment] = (),
    personal: frozenset[str] = frozenset(),
    message_id: str | None = None,
) -> NewEmail:
    link = unsubscribe_url(services, customer)
    return build_email(
        services,
        kind=kind,
        context={**context, "unsubscribe_url": link},
        to_email=customer.email,
        to_name=customer.name,
        dedupe_key=dedupe_key,
        customer_id=customer.id,
        headers=unsubscribe_headers(services, customer, link),
        attachments=attachments,
        locale=customer.locale,
        personal=personal | {"unsubscribe_url"} if personal else personal,
        message_id=message_id,
    )
