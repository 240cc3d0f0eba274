"""GET /v1/reports/nps: the report `vouch report --format json` prints, over HTTP."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from daemon.owner import report, stages
from daemon.run.services import Services
from daemon.web.api import INVALID, UNAUTHORIZED
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


@router.get("/v1/reports/nps", responses=INVALID)
async def nps_report(
    request: Request,
    months: Annotated[int, Query(ge=1, le=report.MAX_MONTHS, description="trend length")] = 12,
) -> dict[str, Any]:
    """NPS with its 95% interval, segments, distribution, response rate and monthly trend,
    overall, per survey and per customer tag (shape: daemon/owner/report.py)."""
    services: Services = request.app.state.services
    config = services.config
    built = await report.from_store(
        services.store,
        config.surveys,
        config.settings.business.timezone,
        services.clock.now(),
        months,
    )
    return report.to_json(built)


@router.get("/v1/reports/stages", responses=INVALID)
async def stages_report(
    request: Request,
    months: Annotated[int, Query(ge=1, le=report.MAX_MONTHS, description="months shown")] = 12,
) -> dict[str, Any]:
    """The customer life cycle: how many customers stand at each stage now and how many moved
    into each stage month by month (shape: daemon/owner/stages.py)."""
    services: Services = request.app.state.services
    timezone = services.config.settings.business.timezone
    return await stages.report(services.store, services.clock.now(), timezone, months)
