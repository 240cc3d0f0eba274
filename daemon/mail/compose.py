"""Turn an email kind and its context into bytes (rendered, flattened and signed once), and
those bytes into an outbox row.

`message` gives the bytes alone (`to_customer` addresses one to a customer): what the sender
stores for a survey rendered at claim (daemon/surveys/survey_email.py). `build_email` wraps
them into a `NewEmail` for the emails queued already rendered; `queue_for_customer` renders
and queues an email to a customer in one call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict

from daemon.errors import VouchError
from daemon.mail.links import unsubscribe_headers, unsubscribe_url
from daemon.mail.outbox import NewEmail
from daemon.mail.render import Attachment, new_message_id
from daemon.run.services import Services
from daemon.store.rows import Customer


async def enqueue(services: Services, email: NewEmail) -> int | None:
    """Into the outbox; None when this dedupe key was enqueued before (nothing is added)."""
    return await services.store.enqueue(email, services.clock.now())


class Envelope(TypedDict):
    """Who an email is to and how it is addressed: what the renderer and the stamps take."""

    to_email: str
    to_name: str | None
    message_id: str
    headers: Mapping[str, str] | None
    locale: str | None


def message(
    services: Services,
    kind: str,
    context: Mapping[str, Any],
    envelope: Envelope,
    attachments: Sequence[Attachment] = (),
    personal: frozenset[str] = frozenset(),
) -> bytes:
    """One email's bytes, rendered and DKIM-signed. `personal` names the context values that
    differ per recipient in a batch: such emails come from a stamp (daemon/mail/stamp.py)."""
    if personal and not attachments:
        data = services.stamps.render(kind, context, personal=personal, **envelope)
    else:
        data = services.renderer.render(kind, context, attachments=attachments, **envelope).message
    dkim = services.config.dkim
    # signed once here: every retry sends these same bytes
    return dkim.sign(data, services.clock.now()) if dkim is not None else data


def to_customer(
    services: Services, customer: Customer, context: Mapping[str, Any], message_id: str
) -> tuple[dict[str, Any], Envelope]:
    """The context and envelope of an email to a customer: their address, name and language,
    and their own unsubscribe link (`unsubscribe_url`, personal to each) in the body and in
    the List-Unsubscribe headers."""
    link = unsubscribe_url(services, customer)
    envelope = Envelope(
        to_email=customer.email,
        to_name=customer.name,
        message_id=message_id,
        headers=unsubscribe_headers(services, customer, link),
        locale=customer.locale,
    )
    return {**context, "unsubscribe_url": link}, envelope


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
) -> NewEmail:
    """Render (and DKIM-sign) one email into an outbox row, not yet stored."""
    message_id = new_message_id(services.config.message_id_domain)
    envelope = Envelope(
        to_email=to_email,
        to_name=to_name,
        message_id=message_id,
        headers=headers,
        locale=locale,
    )
    data = message(services, kind, context, envelope, attachments)
    return _row(services, kind, dedupe_key, to_email, message_id, data, not_before, customer_id)


async def queue_for_customer(
    services: Services,
    customer: Customer,
    *,
    kind: str,
    context: Mapping[str, Any],
    dedupe_key: str,
    attachments: Sequence[Attachment] = (),
) -> int | None:
    """An email to a customer (`to_customer`) rendered and queued (None: this dedupe key was
    queued before, nothing is added); never with owner's files older than those saved last."""
    if not await services.current():
        raise VouchError(f"{kind} not rendered: the owner's files saved last cannot be loaded")
    message_id = new_message_id(services.config.message_id_domain)
    addressed, envelope = to_customer(services, customer, context, message_id)
    data = message(services, kind, addressed, envelope, attachments)
    row = _row(services, kind, dedupe_key, customer.email, message_id, data, None, customer.id)
    return await enqueue(services, row)


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
