"""Outbound webhooks: what happened becomes a signed POST to the owner's endpoints.

Each sweep reads facts no sweep has reported (new responses, complaints, referrals, referral
steps, issued rewards: each table has a `reported` flag) and, in one transaction, puts a delivery
per interested endpoint into the outbox and marks the facts reported. So a fact recorded before a
crash is reported after it; a repeat adds nothing (one dedupe key per endpoint and fact); and
the sender delivers, retries and gives up exactly as it does for email
(daemon/transport/webhook.py). Without [[webhooks]] facts are marked and nothing is queued.
"""

from __future__ import annotations

from daemon.engine.webhooks import Endpoint, Fact, body, dedupe_key, wanted_by
from daemon.mail.outbox import WEBHOOK, NewEmail
from daemon.run import isolation
from daemon.run.services import Services
from daemon.store.webhooks import Webhooks

BATCH = 200


def endpoints(services: Services) -> list[Endpoint]:
    return [
        Endpoint(hook.url, frozenset(hook.events)) for hook in services.config.settings.webhooks
    ]


async def sweep(services: Services) -> int:
    """Report what is new; returns how many facts were handled."""
    store: Webhooks = services.store
    facts = await store.unreported_facts(BATCH)
    await isolation.batch(
        services,
        "webhook",
        facts,
        lambda some: _report(services, some),
        key=lambda f: f.id,
        customer=lambda f: f.customer_id,
    )
    return len(facts)


async def _report(services: Services, facts: list[Fact]) -> None:
    store: Webhooks = services.store
    now = services.clock.now()
    configured = endpoints(services)
    deliveries = []
    for fact in facts:
        payload = body(fact)
        for endpoint in wanted_by(fact, configured):
            deliveries.append(
                NewEmail(
                    dedupe_key=dedupe_key(endpoint.url, fact),
                    kind=WEBHOOK,
                    recipient=endpoint.url,
                    envelope_from="",
                    message_id=fact.id,
                    message=payload,
                    not_before=now,
                    customer_id=fact.customer_id,
                )
            )
    await store.report_facts(facts, deliveries, now)
