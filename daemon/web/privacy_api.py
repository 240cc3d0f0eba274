"""`DELETE /v1/customers/{email}`: forget a person, as `vouch forget` does (bearer token):
the same call, daemon/owner/privacy.py."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from daemon.owner import privacy
from daemon.run.services import Services
from daemon.web.api import INVALID, NOT_FOUND, UNAUTHORIZED
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)


def _not_an_address(exc: ValueError) -> JSONResponse:
    return JSONResponse(
        status_code=422,
        content={
            "error": "invalid request",
            "detail": f"email: {exc}",
            "problems": [{"field": "email", "message": str(exc)}],
        },
    )


@router.delete("/v1/customers/", include_in_schema=False)
async def forget_nobody() -> JSONResponse:
    """An empty address names nobody: said as plainly as any other non-address."""
    return _not_an_address(ValueError("not an email address: '' (it is empty)"))


@router.delete("/v1/customers/{email}", responses={**INVALID, **NOT_FOUND})
async def forget_customer(email: str, request: Request) -> JSONResponse:
    """Erase the person's data, keep the anonymous facts (scores, dates, counts) and a hashed
    suppression. Only this address, exactly (in any case): anything else is a 422. Safe to
    repeat: once nothing is held about the address, the answer is a 404."""
    try:
        exact = privacy.exact_address(email)
    except privacy.NotAnAddress as exc:
        return _not_an_address(exc)
    found: Services = request.app.state.services
    done = await privacy.forget(found, exact)
    if not done["held"]:
        return JSONResponse(
            status_code=404,
            content={
                "error": f"nothing held about {exact!r}",
                "detail": "already forgotten, or never known; the address stays suppressed, "
                "stored only as its SHA-256 hash",
            },
        )
    return JSONResponse(content=done)
