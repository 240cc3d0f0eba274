"""The public links in emails: signed, unguessable, one per purpose."""

from __future__ import annotations

from typing import Any

from daemon.mail.tokens import survey_token, survey_tokens, unsubscribe_token
from daemon.run.services import Services
from daemon.store.rows import Customer, Invitation


def score_links(services: Services, invitation: Invitation) -> list[dict[str, Any]]:
    prefix = services.url("/s/")
    tokens = survey_tokens(services.signer, invitation.public_id)
    return [{"score": n, "url": prefix + token} for n, token in enumerate(tokens)]


def survey_url(services: Services, invitation: Invitation) -> str:
    return services.url(f"/s/{survey_token(services.signer, invitation.public_id, None)}")


def unsubscribe_url(services: Services, customer: Customer) -> str:
    return services.url(f"/u/{unsubscribe_token(services.signer, customer.public_id)}")


def unsubscribe_headers(
    services: Services, customer: Customer, link: str | None = None
) -> dict[str, str]:
    """RFC 2369 List-Unsubscribe with RFC 8058 one-click: mail apps show an unsubscribe button
    that POSTs to the link, so it works without the customer opening anything."""
    business = services.config.settings.business
    mailbox = business.reply_to or business.email
    return {
        "List-Unsubscribe": f"<{link or unsubscribe_url(services, customer)}>, "
        f"<mailto:{mailbox}?subject=unsubscribe>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
