"""`DELETE /v1/customers/{email}`: forget a person, as `vouch forget` does (bearer token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from daemon.services import Services
from daemon.web.api import INVALID, UNAUTHORIZED
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


@router.delete("/v1/customers/{email}", responses=INVALID)
async def forget_customer(email: str, request: Request) -> dict[str, Any]:
    """Erase the person's data, keep the anonymous facts (scores, dates, counts) and a hashed
    suppression. Safe to repeat: a second call finds nothing left to erase."""
    found: Services = request.app.state.services
    return await found.store.forget(email, found.clock.now())
