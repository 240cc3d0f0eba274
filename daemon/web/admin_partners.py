"""The dashboard's partners: the list with each partner's link and balance, adding a partner,
and, on a partner's page, the clients given to it and how they went.

Every change goes through partners/roster.py, as `vouch partner ...` and /v1/partners do, with
the same checks; a form with a mistake comes back (400) with what was typed and, under each
wrong field, what is wrong. The balance is `vouch report partners`' own (daemon/partner_report).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from daemon.partners import report, roster
from daemon.partners.roster import ClientIn, PartnerIn
from daemon.store.partners import Partners
from daemon.store.rows import Partner
from daemon.web.owner import (
    Refused,
    admin_page,
    amount,
    checked_form,
    field_errors,
    owner,
    record,
    text_fields,
)
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

PARTNER_FIELDS = ("name", "contact", "email", "trade", "wants")
GIVE_FIELDS = ("client", "note")
DONE = {
    "added": "Partner added. Send them their link; clients they introduce reach your pipeline.",
    "given": "Client recorded as given. Come back here when you hear how it went.",
    "won": "Marked won.",
    "lost": "Marked lost.",
}


async def _list_page(
    request: Request,
    session: Session,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    svc = services(request)
    balance = report.report(await svc.store.partner_facts(), svc.config.settings.business.currency)
    by_id = {row["id"]: row for row in balance["partners"]}
    rows = [
        {
            "partner": p,
            "link": roster.partner_json(svc, p)["referral_url"],
            "figures": by_id[p.public_id],
        }
        for p in await svc.store.partners()
    ]
    return admin_page(
        request,
        session,
        "admin/partners.html",
        status,
        notice=DONE.get(done or ""),
        rows=rows,
        totals=balance["totals"],
        form=form or {},
        errors=errors or {},
    )


@router.get("/partners")
async def partner_list(request: Request, session: Owner, done: str | None = None) -> Response:
    return await _list_page(request, session, done=done)


@router.post("/partners")
async def add_partner(request: Request, session: Owner) -> Response:
    """`vouch partner add` / `POST /v1/partners`, from the dashboard."""
    form = await checked_form(request, session)
    typed: dict[str, Any] = text_fields(form, PARTNER_FIELDS)
    typed["reward"] = form.get("reward") == "yes"
    try:
        new = PartnerIn.model_validate(typed)
        added = await roster.add(services(request), new)
    except ValidationError as exc:
        return await _list_page(request, session, 400, typed, field_errors(exc))
    except roster.PartnerError as exc:  # the address is a partner already
        return await _list_page(request, session, 409, typed, {"email": str(exc)})
    await record(request, session, "added", f"partner:{added.public_id}")
    return RedirectResponse("/admin/partners?done=added", status_code=303)


async def _partner(request: Request, partner_id: str) -> Partner:
    store: Partners = services(request).store
    found = await store.partners_matching(partner_id)
    partner = next((p for p in found if p.public_id == partner_id), None)
    if partner is None:
        raise Refused(404, "No such partner", f"There is no partner {partner_id}.")
    return partner


async def _detail_page(
    request: Request,
    session: Session,
    partner: Partner,
    status: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
) -> Response:
    svc = services(request)
    return admin_page(
        request,
        session,
        "admin/partner.html",
        status,
        notice=DONE.get(done or ""),
        partner=partner,
        links=roster.partner_json(svc, partner),
        received=await svc.store.referrals_from(partner.advocate_id),
        given=await svc.store.given_to(partner.id),
        outcomes=roster.OUTCOMES,
        form=form or {},
        errors=errors or {},
    )


@router.get("/partners/{partner_id}")
async def partner_page(
    request: Request, partner_id: str, session: Owner, done: str | None = None
) -> Response:
    return await _detail_page(request, session, await _partner(request, partner_id), done=done)


@router.post("/partners/{partner_id}/given")
async def give(request: Request, partner_id: str, session: Owner) -> Response:
    """`vouch partner gave PARTNER --client "Name <email>" --note ...`, from the dashboard."""
    form = await checked_form(request, session)
    partner = await _partner(request, partner_id)
    typed = text_fields(form, GIVE_FIELDS)
    try:
        client = ClientIn.model_validate(
            {**roster.parse_client(typed.get("client", "")), "note": typed.get("note")}
        )
    except roster.PartnerError as exc:
        return await _detail_page(request, session, partner, 400, typed, {"client": str(exc)})
    except ValidationError as exc:
        errors = field_errors(exc)
        wrong = {
            "note" if name == "note" else "client": message for name, message in errors.items()
        }
        return await _detail_page(request, session, partner, 400, typed, wrong)
    given = await roster.give(services(request), partner, client)
    await record(request, session, "gave a client", f"given:{given.public_id}")
    return RedirectResponse(f"/admin/partners/{partner.public_id}?done=given", status_code=303)


@router.post("/partners/{partner_id}/given/{given_id}/outcome")
async def outcome(request: Request, partner_id: str, given_id: str, session: Owner) -> Response:
    """`vouch partner outcome g_... won|lost [--value ...]`, from the dashboard."""
    form = await checked_form(request, session)
    partner = await _partner(request, partner_id)
    svc = services(request)
    given = await svc.store.given_referral(given_id)
    if given is None or given.partner_id != partner.id:
        raise Refused(404, "Not changed", f"No client {given_id} was given to {partner.name}.")
    status = str(form.get("status") or "")
    try:
        closed = await roster.close(svc, given, status, amount(form.get("value"), "Not changed"))
    except roster.PartnerError as exc:
        raise Refused(409, "Not changed", str(exc)) from None
    await record(request, session, f"marked {closed.status}", f"given:{given_id}")
    return RedirectResponse(
        f"/admin/partners/{partner.public_id}?done={closed.status}", status_code=303
    )
