"""`POST /v1/sending/resume`: the owner says the relay is fixed, as `vouch resume` does."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from daemon.run.services import Services
from daemon.store.outbox import Outbox
from daemon.web.api import UNAUTHORIZED
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


@router.post("/v1/sending/resume")
async def resume_sending(request: Request) -> dict[str, Any]:
    """End a pause of sending (the relay refused us); the queued emails go out at the sender's
    next look. Safe to repeat: `resumed` says whether sending was paused."""
    found: Services = request.app.state.services
    return await resume(found)


async def resume(services: Services) -> dict[str, Any]:
    """The one way the owner resumes sending (the API, the dashboard, `vouch resume`)."""
    store: Outbox = services.store
    was = await store.resume_sending()
    if was is None:
        return {"resumed": False}
    services.nudge()
    return {"resumed": True, "reason": was.reason, "since": was.since.isoformat()}
