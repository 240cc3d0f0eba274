"""The dashboard's reports page: where the work comes from, the funnel, the offer test, the
partners, the most influential advocates and the customers' life cycle, each first in the
owner's words (daemon/engine/findings.py) with its figures one click away. The figures are the
CLI reports' own (`vouch report referrals|funnel|offers|partners|advocates|stages`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from daemon.engine import findings
from daemon.owner import stages
from daemon.partners import report as partner_report
from daemon.referrals import funnel, influence, offers, sources
from daemon.web import charts
from daemon.web.owner import admin_page, owner
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

MONTHS = 12  # the life cycle's months, as the overview's trend


@router.get("/reports")
async def reports(request: Request, session: Owner) -> Response:
    svc = services(request)
    store, config = svc.store, svc.config
    currency = config.settings.business.currency
    money = config.money
    referred = sources.report(await store.referral_facts(), await store.tags_by_kind(), currency)
    offer_test = offers.report(
        offers.configured(config.settings.referrals), await store.offer_facts(), currency
    )
    balance = partner_report.report(await store.partner_facts(), currency)
    ranked = await influence.report(svc)
    timezone = config.settings.business.timezone
    life = await stages.report(store, svc.clock.now(), timezone, MONTHS)
    flow = await funnel.from_store(svc, MONTHS)
    return admin_page(
        request,
        session,
        "admin/reports.html",
        referred=referred,
        said_sources=findings.sources(referred, money),
        offer_test=offer_test,
        said_offers=findings.offers(offer_test),
        balance=balance,
        said_partners=findings.partners(balance, money),
        said_advocates=findings.advocates(ranked),
        flow=flow,
        said_funnel=findings.funnel(flow, money),
        life=life,
        road=charts.road(life["now"]),
    )
