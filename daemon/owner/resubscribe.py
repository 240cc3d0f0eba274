"""Re-subscribing: the owner lifts an unsubscribe (`vouch resubscribe`, `POST
/v1/customers/{email}/resubscribe`) when a customer asks to hear from them again.

Only an unsubscribe is lifted (daemon/engine/suppressions.py); a hard bounce, a spam complaint
or an erased person stays suppressed, and the answer says why. Each lift is recorded with who
did it and when, the address kept only as its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.engine.suppressions import why_not_lifted
from daemon.run.services import Services
from daemon.settings import stored_address
from daemon.store.outbox import Outbox


class NotAnAddress(ValueError):
    """The argument is not an email address."""


class NotLifted(LookupError):
    """Nothing was lifted: the address is not suppressed, or not for an unsubscribe."""

    def __init__(self, message: str, *, suppressed: bool) -> None:
        super().__init__(message)
        self.suppressed = suppressed


@dataclass(frozen=True)
class Lifted:
    address: str
    reason: str  # the suppression lifted
    suppressed_at: datetime
    by: str
    at: datetime

    def json(self) -> dict[str, str]:
        return {
            "address": self.address,
            "lifted": self.reason,
            "suppressed_at": self.suppressed_at.isoformat(),
            "by": self.by,
            "at": self.at.isoformat(),
        }


async def resubscribe(services: Services, address: str, by: str) -> Lifted:
    """Lift the unsubscribe of exactly this address; raises NotAnAddress or NotLifted."""
    try:
        email = stored_address(address.strip())
    except ValueError as exc:
        raise NotAnAddress(str(exc)) from None
    store: Outbox = services.store
    now = services.clock.now()
    found = await store.suppressions_of(email)
    if not found:
        raise NotLifted(f"{email} is not suppressed: nothing to lift", suppressed=False)
    for reason, _ in found:
        if (why := why_not_lifted(reason)) is not None:
            raise NotLifted(f"{email} is {why}", suppressed=True)
    reason = found[0][0]
    since = await store.lift_suppression(email, reason, by, now)
    if since is None:  # changed since we looked: say what stands now
        raise NotLifted(f"{email}'s suppression changed meanwhile; try again", suppressed=True)
    return Lifted(email, reason, since, by, now)
