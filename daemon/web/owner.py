"""What every /admin page needs: the owner's session, the CSRF check, the page helper, refusals.

A request without a valid session gets the login page (a GET is redirected there; anything else
is refused with 401). Every POST must carry the session's CSRF token, or it is refused with 403
before anything is read or changed.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.templating import Jinja2Templates

from daemon.engine.inputs import text_problem
from daemon.run.services import Services
from daemon.web.session import SESSION_COOKIE, Session, csrf_ok, csrf_token, read_session
from daemon.web.state import services

LOGIN = "/admin/login"
#: Where a form may send the owner back to: a dashboard path, on a list's page perhaps.
_BACK = re.compile(r"^/admin(/[A-Za-z0-9_-]+)*(\?page=[0-9]{1,6})?$")


class LoginRequired(Exception):
    """No valid session: the owner must log in first."""


class Refused(Exception):
    """A request the dashboard will not carry out, with the reason in words."""

    def __init__(self, status: int, title: str, text: str) -> None:
        super().__init__(text)
        self.status, self.title, self.text = status, title, text


async def current_session(request: Request) -> Session | None:
    """The session the request's cookie holds: genuine, not expired, and not ended (logged out)
    in the store."""
    svc = services(request)
    now = svc.clock.now()
    session = read_session(svc.signer, request.cookies.get(SESSION_COOKIE), now)
    holder = await svc.store.session_holder(session.id, now) if session else None
    if session is None or holder is None:
        return None
    if holder.user_id is None and not svc.config.secrets.dashboard_password:
        return None  # the shared password's session, the password since unset
    return replace(session, holder=holder)


async def owner(request: Request) -> Session:
    """The dependency every /admin route but the login takes: anyone logged in (an owner or
    staff: every routine task is theirs)."""
    session = await current_session(request)
    if session is None:
        raise LoginRequired()
    return session


async def owner_only(request: Request) -> Session:
    """The dependency of what only an owner may do (manage the users): staff get a 403."""
    session = await owner(request)
    if session.who.role != "owner":
        raise Refused(403, "Owners only", "Only an owner of the business can manage users.")
    return session


async def record(request: Request, session: Session, action: str, item: str) -> None:
    """Who did `action` to `item` from the dashboard, kept to show on the item."""
    svc = services(request)
    await svc.store.record_action(session.who, action, item, svc.clock.now())


async def checked_form(request: Request, session: Session) -> FormData:
    """The POSTed form, once its CSRF token has been checked against the session."""
    form = await request.form()
    if not csrf_ok(services(request).signer, session, form.get("csrf")):
        raise Refused(
            403,
            "Form expired",
            "This form was not sent from your dashboard session (its security token is missing "
            "or does not match). Nothing was changed. Go back, reload the page and try again.",
        )
    return form


def back_to(form: FormData, done: str) -> RedirectResponse:
    """After a change, back to the page the form came from (an /admin path only), saying so."""
    back = safe_back(form.get("back"))
    joined = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{joined}done={quote(done)}", status_code=303)


def safe_back(value: object) -> str:
    """A path inside the dashboard to return to (after a change, or after login: `next`);
    anything else (another site, `//host`, `/\\host`, a path outside /admin, a line break) is
    /admin: never an open redirect."""
    return value if isinstance(value, str) and _BACK.fullmatch(value) else "/admin"


def text_fields(form: FormData, names: tuple[str, ...]) -> dict[str, str]:
    """The named fields of a form as typed (blank ones left out), to check and to show again."""
    found = {name: form.get(name) for name in names}
    return {k: v.strip() for k, v in found.items() if isinstance(v, str) and v.strip()}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """A model's complaints in words, by form field (the first one for each)."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        name = ".".join(str(p) for p in error["loc"]) or "form"
        said = "required" if error["type"] == "missing" else error["msg"]
        errors.setdefault(name, said.removeprefix("Value error, "))
    return errors


def amount(raw: object, title: str) -> float | None:
    """A money field: blank is None; "12,500" is 12500; anything not a number 0 or more is
    refused (400) under `title`."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        value = float(raw.strip().replace(",", ""))
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise Refused(400, title, f"The value must be a number, 0 or more (not {raw!r}).")
    return value


def note(raw: object, title: str) -> str | None:
    """A note field: blank is None; at most 1000 characters; one with control characters (a
    paste gone wrong) is refused (400) under `title`, never stored to come out raw."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    if problem := text_problem(raw.strip(), free=True):
        raise Refused(400, title, f"The note {problem}. Nothing was changed.")
    return raw.strip()[:1000]


def admin_page(
    request: Request, session: Session | None, name: str, status: int = 200, **context: Any
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.pages
    svc = services(request)
    context["business"] = svc.config.settings.business
    context["csrf"] = csrf_token(svc.signer, session) if session else None
    context["me"] = session.holder if session else None
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def login_required(request: Request, exc: Exception) -> Response:
    if request.method in ("GET", "HEAD"):
        return RedirectResponse(f"{LOGIN}?next={quote(request.url.path)}", status_code=303)
    return admin_page(
        request,
        None,
        "admin/message.html",
        401,
        title="Please log in",
        text="Your dashboard session has ended. Nothing was changed; log in and try again.",
        link=LOGIN,
    )


async def refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    session = await current_session(request)
    return admin_page(
        request, session, "admin/message.html", exc.status, title=exc.title, text=exc.text
    )


def when_filter(svc: Services) -> Any:
    """The `when` filter: a moment in the business's time zone, "2 Mar 2026, 09:30"."""

    def when(moment: datetime | None) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(ZoneInfo(svc.config.settings.business.timezone))
        return f"{local.day} {local:%b %Y, %H:%M}"

    return when
