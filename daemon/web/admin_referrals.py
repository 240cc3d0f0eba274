"""One referral's page in the dashboard, where the owner's emails about it lead: the friend,
who introduced them, its status actions (the dashboard's move, `vouch referral ID STATUS`), the
"are you sure?" page before a win or a loss, Reopen for a win or loss marked by mistake
(follow_up.reopen, within `referrals.reopen_days`), the private notes beside the note the
advocate sees, and its reward with Approve when one waits (`vouch reward approve ID`: the same
store call)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from daemon.engine import reopen as reopen_rule
from daemon.referrals import follow_up
from daemon.store.corrections import Corrections
from daemon.store.customers import Customers
from daemon.store.notes import OwnerNotes
from daemon.store.referrals import Referrals
from daemon.store.rewards import Rewards
from daemon.store.rows import Referral
from daemon.store.users import Users
from daemon.web.owner import (
    Refused,
    admin_page,
    back_to,
    checked_form,
    note,
    owner,
    record,
    safe_back,
)
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
    "reopened": "Referral reopened: it is back where it was before; the advocate was not told.",
    "noted": "Note kept. Only you and your staff see it; the advocate never does.",
}
#: What the "are you sure?" page says each closing move does.
CONSEQUENCES = {
    "won": "The advocate gets their thank-you with the reward at the next send.",
    "lost": "The referral leaves the pipeline. The advocate is told only if you choose so.",
}
WAITING = {
    "awaiting_approval": "waiting for your approval",
    "awaiting_code": "waiting for a code from your pool (load codes on the Rewards page)",
    "issued": "given",
}


class ReferralStore(Corrections, Customers, OwnerNotes, Referrals, Rewards, Users, Protocol):
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
    svc = services(request)
    store: ReferralStore = svc.store
    referral = await _found(store, public_id)
    advocate = await store.advocate(referral.advocate_id)
    assert advocate is not None
    item = f"referral:{referral.public_id}"
    reward = await store.reward_of_referral(referral.id)
    cannot_reopen = None
    if referral.status in reopen_rule.CLOSED:
        facts = await store.reopen_facts(referral.id)
        assert facts is not None
        cannot_reopen = reopen_rule.why_not(
            referral.status,
            facts.closed_at,
            facts.reward_state,
            svc.clock.now(),
            _window(request),
            facts.told,
        )
    return admin_page(
        request,
        session,
        "admin/referral.html",
        notice=DONE.get(done or ""),
        r=referral,
        advocate=await store.customer(advocate.customer_id),
        moves=follow_up.next_statuses(referral.status),
        reward=reward,
        waiting=WAITING,
        moved=(await store.last_actions([item])).get(item),
        closed=referral.status in reopen_rule.CLOSED,
        cannot_reopen=cannot_reopen,
        reopen_days=svc.config.settings.referrals.reopen_days,
        notes=await store.notes_on_referral(referral.id),
        errors={},
    )


def _window(request: Request) -> timedelta:
    return timedelta(days=services(request).config.settings.referrals.reopen_days)


async def confirm_move(
    request: Request, session: Session, referral: Referral, status: str, form: FormData
) -> Response:
    """The "are you sure?" page before a win or a loss: the same form again, confirmed."""
    fields = {k: str(form.get(k) or "") for k in ("note", "value", "share")}
    return admin_page(
        request,
        session,
        "admin/confirm_move.html",
        r=referral,
        to=status,
        fields=fields,
        back=safe_back(form.get("back")),
        consequence=CONSEQUENCES[status],
        reopen_days=services(request).config.settings.referrals.reopen_days,
    )


@router.post("/referrals/{public_id}/reopen")
async def reopen(request: Request, public_id: str, session: Owner) -> Response:
    """A win or a loss marked by mistake, back to where it was (follow_up.reopen)."""
    form = await checked_form(request, session)
    svc = services(request)
    referral = await _found(svc.store, public_id)
    try:
        moved = await follow_up.reopen(svc, referral)
    except follow_up.ReferralError as exc:
        raise Refused(409, "Not reopened", f"{exc}. Nothing was changed.") from None
    await record(request, session, f"reopened (back to {moved.status})", f"referral:{public_id}")
    return back_to(form, "reopened")


@router.post("/referrals/{public_id}/notes")
async def add_note(request: Request, public_id: str, session: Owner) -> Response:
    """A private note on the referral (the note for the advocate goes with a move)."""
    form = await checked_form(request, session)
    svc = services(request)
    store: ReferralStore = svc.store
    referral = await _found(store, public_id)
    text = note(form.get("note"), "Note not kept")
    if text is None:
        raise Refused(422, "Note not kept", "The note was empty: write the note first.")
    await store.add_note(session.who, text, svc.clock.now(), referral_id=referral.id)
    await record(request, session, "added a note", f"referral:{public_id}")
    return RedirectResponse(f"/admin/referrals/{public_id}?done=noted#notes", status_code=303)


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
