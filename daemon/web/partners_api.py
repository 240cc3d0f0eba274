"""The admin API for partners: add, list, show, change; the clients given to a partner and how
they went; clients a partner sent, recorded by hand; and the balance report. Partners and
referrals are named by their public ids (p_..., g_..., r_...), never by row ids."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from daemon.partners import report, roster
from daemon.partners.roster import ClientIn, PartnerChange, PartnerIn
from daemon.run.services import Services
from daemon.store.partners import Partners
from daemon.store.rows import Partner
from daemon.web import state
from daemon.web.api import BODY, INVALID, NOT_FOUND, UNAUTHORIZED, Refused, Responses
from daemon.web.auth import require_token
from daemon.web.referrals_api import referral_json

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)

CONFLICT: Responses = {
    409: {"model": Refused, "description": "the change cannot be made (in words)"}
}


class ReceivedIn(ClientIn):
    expects_contact: bool = Field(
        False, description="the client expects us to get in touch (then they get a short note)"
    )


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["won", "lost"]
    value: float | None = Field(None, ge=0, description="the business the partner won, if known")


async def _partner(services: Services, partner_id: str) -> Partner | None:
    store: Partners = services.store
    found = await store.partners_matching(partner_id)
    return next((p for p in found if p.public_id == partner_id), None)


def _missing(partner_id: str) -> JSONResponse:
    return JSONResponse(
        status_code=404,
        content={"error": f"no partner {partner_id!r}", "detail": "GET /v1/partners lists them"},
    )


@router.post("/v1/partners", status_code=201, responses={**CONFLICT, **INVALID, **BODY})
async def post_partner(body: PartnerIn, request: Request) -> JSONResponse:
    services = state.services(request)
    try:
        partner = await roster.add(services, body)
    except roster.PartnerError as exc:
        return JSONResponse(status_code=409, content={"error": "not added", "detail": str(exc)})
    return JSONResponse(
        status_code=201, content={"partner": roster.partner_json(services, partner)}
    )


@router.get("/v1/partners")
async def get_partners(request: Request) -> dict[str, Any]:
    services = state.services(request)
    found = await services.store.partners()
    return {"partners": [roster.partner_json(services, p) for p in found]}


@router.get("/v1/partners/{partner_id}", responses=NOT_FOUND)
async def get_partner(partner_id: str, request: Request) -> JSONResponse:
    """A partner with the clients it sent (referrals) and the clients it was given."""
    services = state.services(request)
    partner = await _partner(services, partner_id)
    if partner is None:
        return _missing(partner_id)
    received = await services.store.referrals_from(partner.advocate_id)
    given = await services.store.given_to(partner.id)
    return JSONResponse(
        content={
            "partner": roster.partner_json(services, partner),
            "received": [referral_json(r) for r in received],
            "given": [roster.given_json(g) for g in given],
        }
    )


@router.patch("/v1/partners/{partner_id}", responses={**NOT_FOUND, **INVALID, **BODY})
async def patch_partner(partner_id: str, body: PartnerChange, request: Request) -> JSONResponse:
    services = state.services(request)
    partner = await _partner(services, partner_id)
    if partner is None:
        return _missing(partner_id)
    changed = await roster.change(services, partner, body)
    return JSONResponse(content={"partner": roster.partner_json(services, changed)})


@router.post(
    "/v1/partners/{partner_id}/given", status_code=201, responses={**NOT_FOUND, **INVALID, **BODY}
)
async def post_given(partner_id: str, body: ClientIn, request: Request) -> JSONResponse:
    """A client the owner sent to the partner."""
    services = state.services(request)
    partner = await _partner(services, partner_id)
    if partner is None:
        return _missing(partner_id)
    given = await roster.give(services, partner, body)
    return JSONResponse(status_code=201, content={"given": roster.given_json(given)})


@router.post(
    "/v1/partners/{partner_id}/given/{given_id}/outcome",
    responses={**NOT_FOUND, **CONFLICT, **INVALID, **BODY},
)
async def post_outcome(
    partner_id: str, given_id: str, body: OutcomeIn, request: Request
) -> JSONResponse:
    """How a client given to the partner went: won or lost."""
    services = state.services(request)
    partner = await _partner(services, partner_id)
    if partner is None:
        return _missing(partner_id)
    given = await services.store.given_referral(given_id)
    if given is None or given.partner_id != partner.id:
        return JSONResponse(
            status_code=404,
            content={"error": f"no referral {given_id!r} given to {partner.public_id}"},
        )
    try:
        closed = await roster.close(services, given, body.status, body.value)
    except roster.PartnerError as exc:
        return JSONResponse(status_code=409, content={"error": "not changed", "detail": str(exc)})
    return JSONResponse(content={"given": roster.given_json(closed)})


@router.post(
    "/v1/partners/{partner_id}/received",
    status_code=201,
    responses={**NOT_FOUND, **INVALID, **BODY},
)
async def post_received(partner_id: str, body: ReceivedIn, request: Request) -> JSONResponse:
    """A client the partner sent by phone or in person: a referral with the usual follow-up."""
    services = state.services(request)
    partner = await _partner(services, partner_id)
    if partner is None:
        return _missing(partner_id)
    referral = await roster.receive(services, partner, body, expects_contact=body.expects_contact)
    return JSONResponse(status_code=201, content={"referral": referral_json(referral)})


@router.get("/v1/reports/partners")
async def partners_report(request: Request) -> dict[str, Any]:
    """Per partner: clients received and given, won both ways, and the balance."""
    services = state.services(request)
    store: Partners = services.store
    return report.report(await store.partner_facts(), services.config.settings.business.currency)
