"""The admin API (JSON, bearer token) and the operational endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from daemon.events import EventIn
from daemon.intake import accept_event
from daemon.services import Services
from daemon.store import Recorded
from daemon.web.auth import require_token

router = APIRouter()
admin = APIRouter(dependencies=[Depends(require_token)])


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


@admin.post(
    "/v1/events",
    status_code=202,
    responses={409: {"description": "the id was already used for a different event"}},
)
async def post_event(event: EventIn, request: Request) -> JSONResponse:
    """Record an event. The id is an idempotency key; the event is committed before the 202."""
    outcome = await accept_event(services(request), event)
    if outcome.recorded is Recorded.CONFLICT:
        return JSONResponse(
            status_code=409,
            content={
                "error": "event id already used",
                "detail": f"event {event.id!r} was recorded before with a different body; "
                "use a new id for a new event",
            },
        )
    headers = {"Idempotent-Replayed": "true"} if outcome.recorded is Recorded.REPLAY else {}
    return JSONResponse(status_code=202, content=outcome.receipt, headers=headers)


@router.get("/healthz")
async def healthz(request: Request) -> dict[str, Any]:
    counts = await services(request).store.outbox_counts()
    return {"status": "ok", "outbox": {state.value: n for state, n in counts.items()}}


@admin.get("/metrics")
async def metrics(request: Request) -> Response:
    svc = services(request)
    svc.metrics.set_outbox(await svc.store.outbox_counts())
    return Response(svc.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
