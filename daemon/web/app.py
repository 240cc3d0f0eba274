"""The FastAPI app: built from the services it is handed, no state at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Receive, Scope, Send

from daemon import __version__
from daemon.errors import StoreUnavailable
from daemon.intake.accept import Refused
from daemon.run.services import Services
from daemon.web import (
    admin,
    advocates_api,
    api,
    brand,
    integrations,
    pages,
    partners_api,
    public_survey,
    referral_pages,
    referrals_api,
    reports,
    review_pages,
)
from daemon.web.fast_events import FastEvents
from daemon.web.limits import BodyLimit
from daemon.web.privacy_api import router as privacy_router
from daemon.web.ratelimit import PublicRateLimit
from daemon.web.resubscribe_api import router as resubscribe_router
from daemon.web.security import SecurityHeaders
from daemon.web.sending_api import router as sending_router

_HERE = Path(__file__).parent


def create_app(services: Services) -> FastAPI:
    app = FastAPI(title="Vouch", version=__version__, docs_url=None, redoc_url=None)
    app.state.services = services
    app.state.pages = Jinja2Templates(directory=_HERE / "templates")  # autoescapes
    # Amounts in the business's currency and locale, from the config in force (a reload applies).
    app.state.pages.env.filters["money"] = lambda amount: services.config.money(amount)
    app.include_router(api.router)
    app.include_router(api.admin)
    app.include_router(pages.router)
    app.include_router(brand.router)
    app.include_router(public_survey.router)
    app.include_router(referral_pages.router)
    app.include_router(review_pages.router)
    app.include_router(referrals_api.router)
    app.include_router(advocates_api.router)
    app.include_router(partners_api.router)
    app.include_router(integrations.router)
    app.include_router(reports.router)
    app.include_router(privacy_router)
    app.include_router(sending_router)
    app.include_router(resubscribe_router)
    admin.install(app)  # the owner's dashboard at /admin
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(Refused, _refused)  # type: ignore[arg-type]
    app.add_exception_handler(StoreUnavailable, _unavailable)  # type: ignore[arg-type]
    app.add_exception_handler(pages.PageNotFound, pages.not_found)
    app.add_middleware(FastEvents, services=services)  # inside BodyLimit: bodies are bounded
    app.add_middleware(BodyLimit, max_bytes=services.config.settings.server.max_body_bytes)
    server = services.config.settings.server
    app.add_middleware(
        PublicRateLimit,
        clock=services.clock,
        rate_per_minute=server.public_rate_per_minute,
        burst=server.public_burst,
        trusted_proxies=server.trusted_proxies,
    )
    app.add_middleware(SecurityHeaders)  # every answer carries the headers
    app.add_middleware(Serving, services=services)  # outermost
    return app


class Serving:
    """Each request counted and its task marked as serving someone (daemon/requests_first.py):
    its database work takes the next turn, and background work waits for a lull."""

    def __init__(self, app: ASGIApp, services: Services) -> None:
        self.app = app
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with self.services.pressure.request():
            await self.app(scope, receive, send)


async def _unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
    """The store cannot write (disk full...): a 503 with Retry-After, never a 500."""
    status, content, headers = api.unavailable_answer(exc)
    return JSONResponse(status_code=status, content=content, headers=headers)


async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
    """A 422 that names each wrong field in words, e.g. `customer.email: ...`."""
    problems: list[dict[str, Any]] = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        if error.get("type") == "json_invalid":
            field, message = "body", f"not valid JSON: {error.get('ctx', {}).get('error', '')}"
        else:
            field = ".".join(loc) or "body"
            message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append({"field": field, "message": message})
    return invalid(problems)


async def _refused(request: Request, exc: Refused) -> JSONResponse:
    """An event that is well formed but cannot be accepted (intake/accept.py): the same 422."""
    return invalid([{"field": r.field, "message": r.message} for r in exc.refusals])


def invalid(problems: list[dict[str, Any]]) -> JSONResponse:
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return JSONResponse(
        status_code=422,
        content={"error": "invalid request", "detail": summary, "problems": problems},
    )
