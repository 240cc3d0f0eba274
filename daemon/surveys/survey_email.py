"""Survey and reminder emails: queued unrendered by the scheduler, rendered when claimed.

The path from an event to the transport; each step reads the customer and checks suppression
once, on the data of its own moment (days can pass between steps), and passes on what it read
(tests/test_path_reads.py counts it on the SQL):

1. An event is accepted (daemon/intake/accept.py): recorded, its customer upserted; nothing is
   decided yet, the scheduler is nudged.
2. The scheduler plans it (daemon/run/scheduler.py `_plan_events`): one read of the batch's
   customers and one suppression check decide whether and when an invitation is planned (the
   cool-down, the send window, a suppressed address: daemon/engine/invitations.py).
3. When invitations fall due, the scheduler (`_ready`) reads their customers and checks
   suppression once: each goes, is skipped or is moved into the window. For each that goes,
   `queued` below makes its outbox row (recipient, Message-ID, invitation, no message), and the
   outbox takes them as they are (`enqueue_many`): cheap writes, so a big tick stays short.
4. The sender claims due rows (daemon/run/sender.py `_start`): one suppression check for the
   claim settles the rows to a suppressed address (a forgotten one too, by its hash) unsent and
   unrendered; the others go on to `render_claimed`.
5. `render_claimed` reads their invitations and customers once for the claim and passes each
   customer down: a reminder whose customer answered or replied since it was queued is
   cancelled; the others become bytes (`message`: daemon/mail/compose.py `to_customer` adds
   the unsubscribe link, daemon/mail/stamp.py fills a stamp, DKIM signs). One that cannot
   be rendered is kept and tried again, like a failed send.
6. The sender stores the bytes before sending them (only on rows still its own and unrendered,
   so a person forgotten meanwhile keeps nothing and is not sent), then hands them to the
   transport; every retry sends those same bytes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from daemon.errors import VouchError
from daemon.mail import compose
from daemon.mail.links import score_links, survey_url
from daemon.mail.outbox import Cancel, NewEmail, OutboxRow
from daemon.mail.render import new_message_id, one_line
from daemon.run.services import Services
from daemon.store.rows import Customer, Invitation, Job

log = logging.getLogger(__name__)

#: What differs between the survey emails of one survey: filled into a stamp (daemon/mail/stamp.py).
PERSONAL = frozenset({"customer_name", "scores", "survey_url", "unsubscribe_url"})


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
    services: Services,
    kind: str,
    invitation: Invitation,
    customer: Customer,
    message_id: str,
    job: Job | None = None,
) -> bytes:
    """The bytes of the survey (or reminder) email of one invitation, from a stamp, signed;
    `job` is what its event said of the job, for the question and the templates."""
    survey = services.config.surveys[invitation.survey]
    words = survey.words(services.renderer.language(kind, customer.locale))
    context = {
        "customer_name": first_name(customer),
        "question": services.renderer.survey_question(words.question, job),
        "job": services.renderer.job(job),
        "low_label": words.low_label,
        "high_label": words.high_label,
        "scores": score_links(services, invitation),
        "survey_url": survey_url(services, invitation),
    }
    addressed, envelope = compose.to_customer(services, customer, context, message_id)
    return compose.message(services, kind, addressed, envelope, personal=PERSONAL)


async def render_claimed(
    services: Services, rows: Sequence[OutboxRow]
) -> dict[int, bytes | str | Cancel]:
    """The messages of claimed unrendered rows by row id, or why one could not be rendered
    (the sender keeps that row and tries again later), or that it is no longer to be sent (a
    reminder to a customer who has answered since it was queued): three queries a claim
    (invitations, customers, and what their events said of the job)."""
    store = services.store
    invitations = await store.invitations(r.invitation_id for r in rows if r.invitation_id)
    customers = await store.customers(i.customer_id for i in invitations.values())
    jobs = await store.invitation_jobs(invitations)
    rendered: dict[int, bytes | str | Cancel] = {}
    for row in rows:
        try:
            rendered[row.id] = _render(services, row, invitations, customers, jobs)
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
    jobs: Mapping[int, Job],
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
    return message(
        services, row.kind, invitation, customer, row.message_id, jobs.get(invitation.id)
    )
