"""The owner's dashboard at /admin: log in, see how customers feel, act on it.

Server-rendered, no JavaScript. The actions are the CLI's and the API's own code paths: resolving
a complaint is `vouch resolve`, moving a referral on is `follow_up.change_status` (so the advocate
hears what the referral engine says they should), and a failed email goes back to the outbox
with the bytes it had. Every change is a POST with the session's CSRF token, answered with a
redirect back (so a reload never repeats it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from daemon.owner import report, users
from daemon.referrals import follow_up, sources
from daemon.store.dashboard import Dashboard
from daemon.store.outbox import Outbox
from daemon.store.public_answers import PublicAnswers
from daemon.store.referrals import Referrals
from daemon.store.reports import Reports
from daemon.store.rows import OpenComplaint, PipelineReferral
from daemon.store.setaside import SetAsides
from daemon.store.users import Users
from daemon.web import (
    admin_advocates,
    admin_customers,
    admin_data,
    admin_edit,
    admin_pages,
    admin_partners,
    admin_referrals,
    admin_reports,
    admin_reviews,
    admin_rewards,
    admin_upcoming,
    admin_users,
    charts,
    sending_api,
)
from daemon.web.owner import (
    LOGIN,
    LoginRequired,
    Refused,
    admin_page,
    amount,
    back_to,
    checked_form,
    login_required,
    note,
    owner,
    record,
    refused,
    safe_back,
    when_filter,
)
from daemon.web.paging import page_of
from daemon.web.ratelimit import client_address, client_scheme
from daemon.web.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFE,
    LoginGuard,
    Session,
    login_nonce,
    login_nonce_ok,
    new_session,
    password_ok,
    session_cookie,
)
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
#: Every router of the dashboard: each route needs the owner's session (but the login's).
ROUTERS = (
    router,
    admin_pages.router,
    admin_customers.router,
    admin_rewards.router,
    admin_partners.router,
    admin_advocates.router,
    admin_referrals.router,
    admin_reports.router,
    admin_reviews.router,
    admin_users.router,
    admin_data.router,
    admin_upcoming.router,
    admin_edit.router,
)
Owner = Annotated[Session, Depends(owner)]

TREND_MONTHS = 12
LIST_LIMIT = 20
COMPLAINTS_SHOWN = 5  # on the overview; the rest a click away (/admin/complaints)
COMPLAINTS_PER_PAGE = 50
RESPONSES_SHOWN = 8
PIPELINE_SHOWN = 6  # the latest in each column; all of a status a click away, a page at a time
REFERRALS_PER_PAGE = 24
#: The moves that ask "are you sure?" first: they close the referral (a win also pays).
CONFIRMED = ("won", "lost")
DONE = {
    "resolved": "Complaint resolved. Referral asks may resume for this customer.",
    **admin_referrals.MOVED,
    "retried": "The email is back in the queue and goes out at the next send.",
    "resumed": "Sending resumed: the queued emails go out now.",
}


class DashboardStore(
    Dashboard, Outbox, PublicAnswers, Referrals, Reports, SetAsides, Users, Protocol
):
    """The store as `dashboard` uses it."""


def install(app: FastAPI) -> None:
    """The dashboard's routes, its login guard, its date filter and its two refusals."""
    svc = app.state.services
    app.state.login_guard = LoginGuard(svc.clock)
    pages: Jinja2Templates = app.state.pages
    pages.env.filters.update(when=when_filter(svc), signed=charts.signed, whole=charts.whole)
    app.add_exception_handler(LoginRequired, login_required)
    app.add_exception_handler(Refused, refused)
    for each in ROUTERS:
        app.include_router(each)


# login ------------------------------------------------------------------------------------------


async def _login_page(
    request: Request, status: int = 200, error: str | None = None, next_: str = "/admin"
) -> HTMLResponse:
    svc = services(request)
    nonce = login_nonce(svc.signer)
    named = bool(await svc.store.user_count())
    response = admin_page(
        request,
        None,
        "admin/login.html",
        status,
        named=named,
        enabled=named or bool(svc.config.secrets.dashboard_password),
        env_name=svc.config.settings.secrets.dashboard_password_env,
        nonce=nonce,
        error=error,
        next=safe_back(next_),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        path=LOGIN,
        httponly=True,
        samesite="strict",
        secure=_over_https(request),
    )
    return response


def _over_https(request: Request) -> bool:
    """Whether the owner's browser reached us over https (directly or through a trusted proxy):
    then the dashboard's cookies are Secure."""
    trusted = frozenset(services(request).config.settings.server.trusted_proxies)
    return client_scheme(request.scope, trusted) == "https"


@router.get("/login")
async def login_form(request: Request, next: str = "/admin") -> Response:
    return await _login_page(request, next_=next)


@router.post("/login")
async def login(request: Request) -> Response:
    svc = services(request)
    guard: LoginGuard = request.app.state.login_guard
    address = client_address(request.scope, frozenset(svc.config.settings.server.trusted_proxies))
    form = await request.form()
    next_ = safe_back(form.get("next"))
    wait = guard.locked_for(address)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        locked = await _login_page(
            request,
            429,
            f"Too many wrong passwords from your address. Try again in {minutes} minute"
            f"{'' if minutes == 1 else 's'}.",
            next_,
        )
        locked.headers["Retry-After"] = str(math.ceil(wait))
        return locked
    if not login_nonce_ok(svc.signer, request.cookies.get(LOGIN_COOKIE), form.get("nonce")):
        return await _login_page(
            request, 403, "The login form expired. Please enter your password again.", next_
        )
    user_id: int | None = None
    if await svc.store.user_count():  # named users: the shared password logs no one in
        given = form.get("email"), form.get("password")
        email, password = (v if isinstance(v, str) else "" for v in given)
        user = await users.login(svc.store, email, password, svc.clock.now())
        if user is None:
            guard.failed(address)
            return await _login_page(
                request, 401, "That email and password do not match a dashboard user.", next_
            )
        user_id = user.id
    elif not svc.config.secrets.dashboard_password:
        return await _login_page(request, 403, None, next_)
    elif not password_ok(svc.config.secrets.dashboard_password, form.get("password")):
        guard.failed(address)
        return await _login_page(request, 401, "That is not the dashboard password.", next_)
    guard.succeeded(address)
    session = new_session(svc.clock.now())
    await svc.store.open_session(session.id, session.expires_at, svc.clock.now(), user_id)
    response = RedirectResponse(next_, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        session_cookie(svc.signer, session),
        max_age=int(SESSION_LIFE.total_seconds()),
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=_over_https(request),
    )
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN)
    return response


@router.post("/logout")
async def logout(request: Request, session: Owner) -> Response:
    await checked_form(request, session)
    await services(request).store.end_session(session.id)  # the cookie is no good from now on
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# the dashboard ----------------------------------------------------------------------------------


@router.get("")
async def dashboard(request: Request, session: Owner, done: str | None = None) -> Response:
    """The overview: how customers feel (NPS, its trend, the scores), the open complaints and
    the latest answers. The pipeline, the sending and the reports have their own pages."""
    svc = services(request)
    store: DashboardStore = svc.store
    config = svc.config
    timezone = config.settings.business.timezone
    built = await report.from_store(store, config.surveys, timezone, svc.clock.now(), TREND_MONTHS)
    overall = built.overall
    currency = config.settings.business.currency
    referred = sources.report(await store.referral_facts(), await store.tags_by_kind(), currency)
    return admin_page(
        request,
        session,
        "admin/dashboard.html",
        notice=DONE.get(done or ""),
        pause=await store.sending_pause(),
        overall=overall,
        nps=overall.nps,
        distribution=charts.distribution(overall.distribution),
        trend=charts.trend(built.months, overall.trend),
        open_complaints=await store.open_complaint_count(),
        complaints=await store.open_complaint_list(COMPLAINTS_SHOWN),
        responses=await store.latest_responses(RESPONSES_SHOWN),
        totals=referred["totals"],
    )


@router.get("/referrals")
async def referrals(request: Request, session: Owner, done: str | None = None) -> Response:
    """The referral pipeline: a column per status with its count and its latest referrals,
    each with its moves; the rest of a status on its own list (`referrals_in`)."""
    store: DashboardStore = services(request).store
    counts, pipeline = await store.referral_pipeline(PIPELINE_SHOWN)
    return admin_page(
        request,
        session,
        "admin/pipeline.html",
        notice=DONE.get(done or ""),
        pipeline={s: [r for r in pipeline if r.status == s] for s in follow_up.STATUSES},
        pipeline_counts=counts,
        **await _moves(store, pipeline),
    )


@router.get("/referrals/status/{status}")
async def referrals_in(
    request: Request, status: str, session: Owner, page: int = 1, done: str | None = None
) -> Response:
    """Every referral of one status, a page at a time (latest change first), each with the
    moves its card in the pipeline has; a page past the end shows the last."""
    if status not in follow_up.STATUSES:
        raise Refused(
            404,
            "No such list",
            f"There is no referral status “{status}”: a referral is "
            f"{', '.join(follow_up.STATUSES[:-1])} or {follow_up.STATUSES[-1]}.",
        )
    store: DashboardStore = services(request).store
    shown = await page_of(partial(store.referrals_in_status, status), page, REFERRALS_PER_PAGE)
    return admin_page(
        request,
        session,
        "admin/referral_list.html",
        notice=DONE.get(done or ""),
        listed=status,
        shown=shown.rows,
        **await _moves(store, shown.rows),
        **shown.context(),
    )


async def _moves(store: DashboardStore, shown: Sequence[PipelineReferral]) -> dict[str, Any]:
    """What a referral card's moves need (the pipeline's and a status list's alike): the
    statuses, each referral's last move by the owner (to reopen it), the moves from each."""
    moved = await store.last_actions([f"referral:{r.public_id}" for r in shown])
    return {
        "statuses": follow_up.STATUSES,
        "moved": {item.removeprefix("referral:"): a for item, a in moved.items()},
        "next_statuses": follow_up.next_statuses,
    }


@router.get("/sending")
async def sending(request: Request, session: Owner, done: str | None = None) -> Response:
    """What is being sent: the outbox, failed emails to retry, work set aside after an error,
    and the asks Vouch decided not to send."""
    store: DashboardStore = services(request).store
    return admin_page(
        request,
        session,
        "admin/sending.html",
        notice=DONE.get(done or ""),
        pause=await store.sending_pause(),
        outbox=await store.outbox_counts(),
        failed=await store.failed_emails(LIST_LIMIT),
        skipped=await store.skipped_asks(LIST_LIMIT),
        set_aside=await store.set_aside_items(LIST_LIMIT),
    )


@router.get("/complaints")
async def complaints(
    request: Request, session: Owner, page: int = 1, done: str | None = None
) -> Response:
    """Every open complaint, a page at a time, each with its resolve button (the dashboard
    shows only the latest)."""
    store: Dashboard = services(request).store

    async def read(limit: int, offset: int) -> tuple[int, list[OpenComplaint]]:
        return await store.open_complaint_count(), await store.open_complaint_list(limit, offset)

    shown = await page_of(read, page, COMPLAINTS_PER_PAGE)
    return admin_page(
        request,
        session,
        "admin/complaints.html",
        notice="Complaint resolved." if done == "resolved" else None,
        complaints=shown.rows,
        **shown.context(),
    )


# actions ----------------------------------------------------------------------------------------


@router.post("/complaints/{complaint_id}/resolve")
async def resolve(request: Request, complaint_id: int, session: Owner) -> Response:
    """`vouch resolve ID --note ...`, from the dashboard."""
    form = await checked_form(request, session)
    svc = services(request)
    closed = await svc.store.resolve_complaints(
        customer_id=None,
        complaint_id=complaint_id,
        note=note(form.get("note"), "Not resolved") or "resolved",
        now=svc.clock.now(),
    )
    if not closed:
        raise Refused(409, "Not resolved", f"There is no open complaint {complaint_id}.")
    await record(request, session, "resolved", f"complaint:{complaint_id}")
    svc.nudge()
    return back_to(form, "resolved")


@router.post("/referrals/{referral_id}/status")
async def move_referral(request: Request, referral_id: str, session: Owner) -> Response:
    """`vouch referral ID STATUS` / `POST /v1/referrals/{id}/status`, from the dashboard. Won
    and lost are asked again first (a page with the same form and `confirmed=yes`: no script
    needed), and a mistake can still be reopened for a while (admin_referrals.reopen)."""
    form = await checked_form(request, session)
    svc = services(request)
    found = await svc.store.referral(referral_id)
    if found is None:
        raise Refused(404, "Not moved", f"There is no referral {referral_id}.")
    status = str(form.get("status") or "")
    value = amount(form.get("value"), "Not moved")
    said = note(form.get("note"), "Not moved")
    share = {"yes": True, "no": False}.get(str(form.get("share") or ""))
    if status in CONFIRMED and status != found.status and form.get("confirmed") != "yes":
        return await admin_referrals.confirm_move(request, session, found, status, form)
    try:
        moved = await follow_up.change_status(
            svc, found, status, value=value, note=said, share=share
        )
    except follow_up.ReferralError as exc:
        raise Refused(409, "Not moved", str(exc)) from None
    await record(request, session, f"moved to {moved.status}", f"referral:{referral_id}")
    return back_to(form, moved.status)


@router.post("/outbox/{row_id}/retry")
async def retry(request: Request, row_id: int, session: Owner) -> Response:
    """A failed email back to the queue, unless its address is suppressed (an unsubscribe or a
    permanent refusal: nothing is ever sent there)."""
    form = await checked_form(request, session)
    svc = services(request)
    row = await svc.store.outbox_row(row_id)
    if row is None or row.state != "failed":
        raise Refused(409, "Not retried", f"Email {row_id} is not a failed email.")
    reason = await svc.store.suppression_reason(row.recipient)
    if reason is not None:
        raise Refused(
            409,
            "Not retried",
            f"{row.recipient} is on the suppression list ({reason}); nothing is sent to it.",
        )
    await svc.store.retry_email(row_id, svc.clock.now())
    await record(request, session, "retried", f"email:{row_id}")
    svc.nudge()
    return back_to(form, "retried")


@router.post("/sending/resume")
async def resume_sending(request: Request, session: Owner) -> Response:
    """`vouch resume` / `POST /v1/sending/resume`, from the dashboard's pause banner."""
    form = await checked_form(request, session)
    await sending_api.resume(services(request))
    await record(request, session, "resumed sending", "sending")
    return back_to(form, "resumed")
