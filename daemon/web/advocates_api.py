"""The admin API for offer tests and influence: the owner's mark, and the two reports."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from daemon.referrals import influence, offers
from daemon.web import state
from daemon.web.api import BODY, INVALID, NOT_FOUND, UNAUTHORIZED
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


class MarkIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mark: Annotated[StrictInt, Field(ge=0, le=10)] | None = Field(
        description="your judgement of the customer's influence, 0-10; null removes it"
    )


@router.put("/v1/customers/{email}/influence", responses={**NOT_FOUND, **INVALID, **BODY})
async def put_influence(email: str, body: MarkIn, request: Request) -> JSONResponse:
    """Set (or with null remove) the owner's influence mark; answers the influence after."""
    try:
        scored = await influence.set_mark(state.services(request), email, body.mark, "api")
    except LookupError as exc:
        return JSONResponse(status_code=404, content={"error": str(exc)})
    return JSONResponse(
        content={"email": email, "influence": scored.score, "why": list(scored.reasons)}
    )


@router.get("/v1/reports/advocates")
async def advocates_report(request: Request) -> dict[str, Any]:
    """Customers ranked by influence, each with why (shape: daemon/referrals/influence.py)."""
    return await influence.report(state.services(request))


@router.get("/v1/reports/offers")
async def offers_report(request: Request) -> dict[str, Any]:
    """The offer test: per offer the figures and the comparison with the control (shape:
    daemon/referrals/offers.py)."""
    services = state.services(request)
    terms = offers.configured(services.config.settings.referrals)
    currency = services.config.settings.business.currency
    return offers.report(terms, await services.store.offer_facts(), currency)
