"""One referral's page in the dashboard, where the owner's emails about it lead: the friend,
who introduced them, its status actions (the dashboard's move, `vouch referral ID STATUS`) and
its reward with Approve when one waits (`vouch reward approve ID`: the same store call)."""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from daemon.referrals import follow_up
from daemon.store.customers import Customers
from daemon.store.referrals import Referrals
from daemon.store.rewards import Rewards
from daemon.store.rows import Referral
from daemon.store.users import Users
from daemon.web.owner import Refused, admin_page, back_to, checked_form, owner, record
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

#: What a move said done, here and on the dashboard.
MOVED = {
    "contacted": "Referral marked contacted; the advocate is told.",
    "meeting": "Referral marked meeting.",
    "won": "Referral won. The advocate gets their thank-you with the reward.",
    "lost": "Referral marked lost.",
}
DONE = {
    **MOVED,
    "approved": "Reward approved: the advocate gets their thank-you with it at the next send.",
}
WAITING = {
    "awaiting_approval": "waiting for your approval",
    "awaiting_code": "waiting for a code from your pool (vouch reward load FILE)",
    "issued": "given",
}


class ReferralStore(Customers, Referrals, Rewards, Users, Protocol):
    """The store as the referral page uses it."""


async def _found(store: ReferralStore, public_id: str) -> Referral:
    referral = await store.referral(public_id)
    if referral is None:
        raise Refused(404, "No such referral", f"There is no referral {public_id}.")
    return referral


@router.get("/referrals/{public_id}")
async def referral_page(
    request: Request, public_id: str, session: Owner, done: str | None = None
) -> Response:
    store: ReferralStore = services(request).store
    referral = await _found(store, public_id)
    advocate = await store.advocate(referral.advocate_id)
    assert advocate is not None
    item = f"referral:{referral.public_id}"
    return admin_page(
        request,
        session,
        "admin/referral.html",
        notice=DONE.get(done or ""),
        r=referral,
        advocate=await store.customer(advocate.customer_id),
        moves=follow_up.next_statuses(referral.status),
        reward=await store.reward_of_referral(referral.id),
        waiting=WAITING,
        moved=(await store.last_actions([item])).get(item),
    )


@router.post("/referrals/{public_id}/reward/approve")
async def approve_reward(request: Request, public_id: str, session: Owner) -> Response:
    """`vouch reward approve ID`, from the dashboard."""
    form = await checked_form(request, session)
    svc = services(request)
    store: ReferralStore = svc.store
    referral = await _found(store, public_id)
    if await store.approve_reward(referral.id, svc.clock.now()) is None:
        raise Refused(409, "Not approved", f"No reward is waiting for approval on {public_id}.")
    await record(request, session, "approved the reward", f"referral:{public_id}")
    svc.nudge()
    return back_to(form, "approved")
