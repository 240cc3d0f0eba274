"""The admin API for referrals: move one on, and see who sends business."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from daemon.referrals import follow_up, sources
from daemon.settings import FreeText
from daemon.store.referrals import Referrals
from daemon.store.rows import Referral
from daemon.web import state
from daemon.web.api import BODY, INVALID, NOT_FOUND, UNAUTHORIZED, Refused
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: Literal["contacted", "meeting", "won", "lost"]
    value: float | None = Field(None, ge=0, description="the business won, in your currency")
    note: FreeText | None = Field(None, max_length=1000, description="words the advocate may see")
    share: bool | None = Field(
        None, description="tell the advocate (default: yes for contacted, no for meeting/lost)"
    )


def referral_json(referral: Referral) -> dict[str, Any]:
    return {
        "id": referral.public_id,
        "status": referral.status,
        **follow_up.referral_facts(referral),
        "value": referral.value,
    }


@router.post(
    "/v1/referrals/{referral_id}/status",
    responses={
        409: {"model": Refused, "description": "the referral cannot move to that status"},
        **NOT_FOUND,
        **INVALID,
        **BODY,
    },
)
async def post_status(referral_id: str, body: StatusIn, request: Request) -> JSONResponse:
    services = state.services(request)
    referral = await services.store.referral(referral_id)
    if referral is None:
        return JSONResponse(status_code=404, content={"error": f"no referral {referral_id!r}"})
    try:
        moved = await follow_up.change_status(
            services, referral, body.status, value=body.value, note=body.note, share=body.share
        )
    except follow_up.ReferralError as exc:
        return JSONResponse(status_code=409, content={"error": "not moved", "detail": str(exc)})
    return JSONResponse(content={"referral": referral_json(moved)})


@router.get("/v1/referrals")
async def get_referrals(request: Request) -> dict[str, Any]:
    """The sources report: per advocate, champions, and who refers by tag."""
    services = state.services(request)
    store: Referrals = services.store
    currency = services.config.settings.business.currency
    return sources.report(await store.referral_facts(), await store.tags_by_kind(), currency)
