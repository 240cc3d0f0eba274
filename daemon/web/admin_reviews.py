"""The dashboard's reviews page: review asks sent and the review sites people clicked, overall
and per month; the figures are `vouch report reviews`' own (daemon/referrals/review_asks.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from daemon.referrals import review_asks
from daemon.web.owner import admin_page, owner
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

MONTHS = 12


@router.get("/reviews")
async def reviews(request: Request, session: Owner) -> Response:
    svc = services(request)
    settings = svc.config.settings.reviews
    return admin_page(
        request,
        session,
        "admin/reviews.html",
        reviews=await review_asks.from_store(svc, MONTHS),
        asking=settings.ask,
        configured=[site.name for site in settings.sites],
    )
