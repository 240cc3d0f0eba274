"""`POST /v1/customers/{email}/resubscribe`: lift an unsubscribe, as `vouch resubscribe` does
(bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from daemon.owner.resubscribe import NotAnAddress, NotLifted, resubscribe
from daemon.run.services import Services
from daemon.web.api import INVALID, NOT_FOUND, UNAUTHORIZED, Refused
from daemon.web.auth import require_token

router = APIRouter(dependencies=[Depends(require_token)], responses=UNAUTHORIZED)

BY = "api token"  # the admin API has one token: who lifted it is "whoever holds it"


@router.post(
    "/v1/customers/{email}/resubscribe",
    responses={
        **NOT_FOUND,
        **INVALID,
        409: {"model": Refused, "description": "suppressed for a reason no owner may lift"},
    },
)
async def resubscribe_customer(email: str, request: Request) -> JSONResponse:
    """Lift the unsubscribe of exactly this address; a bounce or a complaint stays (409)."""
    services: Services = request.app.state.services
    try:
        lifted = await resubscribe(services, email, BY)
    except NotAnAddress as exc:
        message = str(exc)
        return JSONResponse(
            status_code=422,
            content={
                "error": "invalid request",
                "detail": f"email: {message}",
                "problems": [{"field": "email", "message": message}],
            },
        )
    except NotLifted as exc:
        status = 409 if exc.suppressed else 404
        return JSONResponse(status_code=status, content={"error": str(exc)})
    return JSONResponse(content=lifted.json())
