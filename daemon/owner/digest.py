"""The owner's digest: once a period (daily or weekly, `[digest]`), what happened and what is
waiting, by email to business.owner_email.

Each tick looks for the latest period that has ended; its digest is made once (dedupe key
`digest:<period start>`), so a restart, a second daemon or a repeated tick never sends a second
copy. After downtime only the latest period's digest is made, not one for each period missed.
None is made for a period that ended before the store began (a new store's first start).
"""

from __future__ import annotations

from datetime import time
from typing import Protocol
from zoneinfo import ZoneInfo

from daemon.engine import digest
from daemon.mail.compose import build_email, enqueue
from daemon.run import isolation
from daemon.run.services import Services
from daemon.store.digest import Digest
from daemon.store.setaside import SetAsides


class DigestAndSetAsides(Digest, SetAsides, Protocol):
    """The store as `sweep` uses it."""


async def sweep(services: Services) -> int:
    """Enqueue the latest period's digest if it is not in the outbox yet; 1 if it was made."""
    settings = services.config.settings
    store: DigestAndSetAsides = services.store
    now = services.clock.now()
    period = digest.latest_period(
        now,
        settings.digest.every,
        time.fromisoformat(settings.digest.at),
        settings.digest.weekday,
        ZoneInfo(settings.business.timezone),
        since=await store.store_created(now),
    )
    if period is None:
        return 0
    key = f"digest:{period.start:%Y-%m-%dT%H:%MZ}"  # UTC
    if await store.outbox_has(key) or await store.is_set_aside("digest", key):
        return 0
    made = False

    async def make(_: str) -> None:  # a digest that cannot be made is set aside, not retried
        nonlocal made
        facts = await store.digest_facts(period.start, period.end, period.previous_start)
        made = (
            await enqueue(
                services,
                build_email(
                    services,
                    kind="owner_digest",
                    context=digest.build(
                        facts, period, settings.digest.every, services.url("/admin")
                    ),
                    to_email=settings.business.owner_email,
                    dedupe_key=key,
                ),
            )
            is not None
        )

    await isolation.each(services, "digest", [key], make, key=str, customer=lambda _: None)
    return 1 if made else 0
