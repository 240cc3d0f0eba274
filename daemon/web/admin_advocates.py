"""The dashboard's advocates page: the offer test (which offer makes advocates refer, and
whether the difference from the control is more than chance) and the most influential advocates
with why. The figures are `vouch report offers` and `vouch report advocates`' own
(daemon/referrals/offers.py, daemon/referrals/influence.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from daemon.engine import findings
from daemon.referrals import influence, offers
from daemon.web.owner import admin_page, owner
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

ADVOCATES_SHOWN = 20


@router.get("/advocates")
async def advocates(request: Request, session: Owner) -> Response:
    svc = services(request)
    terms = offers.configured(svc.config.settings.referrals)
    offer_test = offers.report(
        terms, await svc.store.offer_facts(), svc.config.settings.business.currency
    )
    ranked = await influence.report(svc)
    return admin_page(
        request,
        session,
        "admin/advocates.html",
        offer_test=offer_test,
        said_offers=findings.offers(offer_test),
        advocates=ranked["advocates"][:ADVOCATES_SHOWN],
        ranked=len(ranked["advocates"]),
        weights=ranked["weights"],
    )
