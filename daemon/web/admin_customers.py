"""The customers in the dashboard: every customer a page at a time, searched by name, email,
tag or external id; one customer's page with their story; and what the owner does for them.

Each action is its CLI command's own code path: the influence mark is `vouch customer mark`
(referrals/influence.set_mark), re-subscribing is `vouch resubscribe` (owner/resubscribe.py),
forgetting and the export are `vouch forget` and `vouch export-person` (owner/privacy.py).
Forgetting and the export hold everything about a person, so they are an owner's alone, and
forgetting asks the owner to type the address. Private notes are the owner's and staff's own,
never shown to the customer. Every change is a POST with the session's CSRF token and is
recorded (who, what, when) against `customer:{public id}`.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from daemon.engine.influence import parse_mark
from daemon.engine.lifecycle_types import ORDER, REFERRAL, REFERRED
from daemon.owner import privacy, stages
from daemon.owner.resubscribe import NotAnAddress, NotLifted, resubscribe
from daemon.referrals import influence
from daemon.store.customers import Customers
from daemon.store.dashboard import Dashboard
from daemon.store.desk import Desk
from daemon.store.influence import InfluenceMarks
from daemon.store.lifecycle import Lifecycle
from daemon.store.notes import OwnerNotes
from daemon.store.outbox import Outbox
from daemon.store.rows import Customer
from daemon.store.setaside import SetAsides
from daemon.store.users import Users
from daemon.web import labels
from daemon.web.owner import Refused, admin_page, checked_form, note, owner, record
from daemon.web.paging import page_of
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

PER_PAGE = 50
SET_ASIDE_SHOWN = 25
#: What moved a customer along the road, in words (otherwise: the event's type).
MOVED_BY = {REFERRAL: "introduced a friend", REFERRED: "a friend introduced them"}
DONE = {
    "resolved": "Complaint resolved.",
    "noted": "Note kept. Only you and your staff see it.",
    "marked": "Influence mark saved.",
    "resubscribed": "Subscribed again: their surveys and asks may go out from now on.",
    "forgotten": "Forgotten: their data is erased and their address stays suppressed, kept "
    "only as a hash. Anonymous figures (scores, dates, counts) stay in your reports.",
}


class CustomerStore(
    Customers,
    Dashboard,
    Desk,
    InfluenceMarks,
    Lifecycle,
    OwnerNotes,
    Outbox,
    SetAsides,
    Users,
    Protocol,
):
    """The store as the customers' pages use it."""


async def owner_in_person(request: Request) -> Session:
    """Forgetting a person and exporting everything about them: an owner's alone (403 for
    staff, with the reason)."""
    session = await owner(request)
    if session.who.role != "owner":
        raise Refused(
            403,
            "Owners only",
            "Only an owner of the business can forget a person or download everything held "
            "about them. Nothing was changed.",
        )
    return session


OwnerOnly = Annotated[Session, Depends(owner_in_person)]


async def _found(store: CustomerStore, public_id: str) -> Customer:
    found = await store.customer_by_public_id(public_id) if len(public_id) == 32 else None
    if found is None:
        raise Refused(404, "No such customer", "There is no customer at this address.")
    return found


def _item(customer: Customer) -> str:
    return f"customer:{customer.public_id}"


def _here(customer: Customer) -> str:
    return f"/admin/customers/{customer.public_id}"


# the list ---------------------------------------------------------------------------------------


@router.get("/customers")
async def customers(
    request: Request, session: Owner, q: str = "", email: str = "", page: int = 1
) -> Response:
    """Every customer by name, PER_PAGE at a time; `q` searches name, address, tag and
    external id (`email`: the same, as older links say). One match found by a search opens
    that customer's page."""
    store: CustomerStore = services(request).store
    query = (q or email).strip()[:200]
    found = await page_of(partial(store.customer_page, query), page, PER_PAGE)
    if query and found.total == 1:
        return RedirectResponse(_here(found.rows[0]), status_code=303)
    return admin_page(
        request,
        session,
        "admin/customers.html",
        notice=DONE.get(request.query_params.get("done") or ""),
        query=query,
        found=found.rows,
        **found.context(),
    )


# one customer -----------------------------------------------------------------------------------


async def _customer_page(
    request: Request,
    session: Session,
    found: Customer,
    *,
    status: int = 200,
    done: str | None = None,
    errors: dict[str, str] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    svc = services(request)
    store: CustomerStore = svc.store
    timeline = await store.customer_timeline(found.id)
    items = [e.item for e in timeline if e.item] + [_item(found)]
    scored = (await influence.scores(svc, [found.id]))[found.id]
    facts = (await store.influence_facts([found.id]))[found.id]
    return admin_page(
        request,
        session,
        "admin/customer.html",
        status,
        customer=found,
        actions=await store.last_actions(items),
        item=_item(found),
        notice=DONE.get(done or ""),
        suppressed=await store.suppression_reason(found.email),
        timeline=[labels.entry(e) for e in timeline],
        stage=await stages.stage_of(store, found.id),  # placed first if the backfill has not yet
        road={move.stage: move for move in await store.customer_road(found.id)},
        stages=ORDER,
        moved_by=MOVED_BY,
        set_aside=(await store.set_aside_items(SET_ASIDE_SHOWN, found.id))[1],
        notes=await store.notes_on_customer(found.id),
        influence=scored,
        mark=facts.mark,
        forgotten=found.email.endswith("@invalid"),
        errors=errors or {},
        typed=typed or {},
    )


@router.get("/customers/{public_id}")
async def customer(
    request: Request, public_id: str, session: Owner, done: str | None = None
) -> Response:
    found = await _found(services(request).store, public_id)
    return await _customer_page(request, session, found, done=done)


@router.post("/customers/{public_id}/notes")
async def add_note(request: Request, public_id: str, session: Owner) -> Response:
    """A private note on the customer, kept with who wrote it and when."""
    form = await checked_form(request, session)
    svc = services(request)
    store: CustomerStore = svc.store
    found = await _found(store, public_id)
    text = note(form.get("note"), "Note not kept")
    if text is None:
        return await _customer_page(
            request, session, found, status=422, errors={"note": "Write the note first."}
        )
    await store.add_note(session.who, text, svc.clock.now(), customer_id=found.id)
    await record(request, session, "added a note", _item(found))
    return RedirectResponse(f"{_here(found)}?done=noted#notes", status_code=303)


@router.post("/customers/{public_id}/influence")
async def mark_influence(request: Request, public_id: str, session: Owner) -> Response:
    """`vouch customer mark EMAIL --influence N` (or `--clear` for a blank mark)."""
    form = await checked_form(request, session)
    svc = services(request)
    found = await _found(svc.store, public_id)
    raw = str(form.get("mark") or "").strip()
    try:
        mark = parse_mark(raw) if raw else None
    except ValueError as exc:
        problem = str(exc).split(", got")[0]
        return await _customer_page(
            request,
            session,
            found,
            status=422,
            errors={"mark": f"The {problem}."},
            typed={"mark": raw},
        )
    await influence.set_mark(svc, found.email, mark, "owner")
    said = "cleared the influence mark" if mark is None else f"set the influence mark to {mark}"
    await record(request, session, said, _item(found))
    return RedirectResponse(f"{_here(found)}?done=marked", status_code=303)


@router.post("/customers/{public_id}/resubscribe")
async def resubscribe_customer(request: Request, public_id: str, session: Owner) -> Response:
    """`vouch resubscribe EMAIL`: only an unsubscribe is lifted, never a bounce or a complaint."""
    await checked_form(request, session)
    svc = services(request)
    found = await _found(svc.store, public_id)
    try:
        await resubscribe(svc, found.email, f"dashboard: {session.who.name}")
    except (NotAnAddress, NotLifted) as exc:
        raise Refused(409, "Not subscribed again", f"{exc}. Nothing was changed.") from None
    await record(request, session, "subscribed them again", _item(found))
    return RedirectResponse(f"{_here(found)}?done=resubscribed", status_code=303)


@router.post("/customers/{public_id}/export")
async def export_person(request: Request, public_id: str, session: OwnerOnly) -> Response:
    """`vouch export-person EMAIL`, as a download: everything held about them, as JSON."""
    await checked_form(request, session)
    svc = services(request)
    found = await _found(svc.store, public_id)
    person = await privacy.export(svc, found.email)
    await record(request, session, "downloaded everything held about them", _item(found))
    return Response(
        json.dumps(person, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="person-{found.public_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/customers/{public_id}/forget")
async def forget(request: Request, public_id: str, session: OwnerOnly) -> Response:
    """`vouch forget EMAIL`, once the owner has typed the address (a slip of the mouse is not
    enough to erase a person)."""
    form = await checked_form(request, session)
    svc = services(request)
    found = await _found(svc.store, public_id)
    typed = str(form.get("confirm") or "").strip()
    if typed.lower() != found.email.lower():
        said = "Type the customer's email address exactly to confirm." if typed else "Required."
        return await _customer_page(
            request,
            session,
            found,
            status=422,
            errors={"confirm": f"{said} Nothing was erased."},
            typed={"confirm": typed},
        )
    try:
        await privacy.forget(svc, found.email)
    except privacy.NoErasureKey as exc:
        raise Refused(409, "Not forgotten", f"{exc}. Nothing was erased.") from None
    await record(request, session, "forgot the person", _item(found))
    return RedirectResponse("/admin/customers?done=forgotten", status_code=303)
