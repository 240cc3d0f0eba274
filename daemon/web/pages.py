"""The public pages customers reach from their emails: the survey (and its thank-you page,
which offers a promoter review links and their referral link to share) and unsubscribe.

Reached only through signed tokens. A GET never changes anything (mail scanners fetch every
link); answers and unsubscribes are POSTs. An unknown or tampered token gets a plain 404.
Each page speaks the language of the customer the token names (`daemon/words.py`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from daemon.engine.inputs import text_problem
from daemon.engine.segments import Segment, segment
from daemon.mail.tokens import read_survey_token, read_unsubscribe_token, survey_token
from daemon.referrals import funnel
from daemon.referrals.follow_up import first_name
from daemon.referrals.share import qr_svg, share_links
from daemon.run.services import Services
from daemon.store.rows import Customer, Invitation, Job
from daemon.surveys.answers import Closed, answer_invitation, is_open
from daemon.web import state
from daemon.words import Words

router = APIRouter(include_in_schema=False)


def page(
    request: Request, name: str, status: int = 200, *, locale: str | None = None, **context: Any
) -> HTMLResponse:
    """A page in the reader's language: `locale` is the customer's, None the business's."""
    templates: Jinja2Templates = request.app.state.pages
    business = state.services(request).config.settings.business
    words = state.words(request)
    context["business"] = business
    context["t"] = words.for_reader(locale, business.locale)
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


class PageNotFound(Exception):
    """No such page for this token or code (unknown, tampered, or its person forgotten):
    answered by `not_found`, the same plain 404 wherever it is raised."""


def not_found(request: Request, _: Exception | None = None) -> HTMLResponse:
    return page(request, "message.html", 404, message="not_found")


def _closed(request: Request, locale: str | None) -> HTMLResponse:
    return page(request, "message.html", 410, locale=locale, message="closed")


async def _invitation(request: Request, token: str) -> tuple[Invitation, int | None, str | None]:
    """The invitation a survey token names, the score it carries, and the customer's locale."""
    services = state.services(request)
    parsed = read_survey_token(services.signer, token)
    invitation = await services.store.invitation_by_public_id(parsed[0]) if parsed else None
    if parsed is None or invitation is None:
        raise PageNotFound
    customer = await services.store.customer(invitation.customer_id)
    return invitation, parsed[1], customer.locale if customer else None


async def _unsubscriber(request: Request, token: str) -> Customer:
    """The customer an unsubscribe token names."""
    services = state.services(request)
    public_id = read_unsubscribe_token(services.signer, token)
    customer = await services.store.customer_by_public_id(public_id) if public_id else None
    if customer is None:
        raise PageNotFound
    return customer


@router.get("/s/{token}")
async def surveypage(request: Request, token: str) -> Response:
    invitation, score, locale = await _invitation(request, token)
    services = state.services(request)
    if (
        not is_open(invitation, services.clock.now())
        or invitation.survey not in services.config.surveys
    ):
        return _closed(request, locale)
    previous = await services.store.invitation_response(invitation.id)
    chosen = score if score is not None else (previous.score if previous else None)
    return survey_form(
        request,
        invitation.survey,
        f"/s/{token}",
        chosen,
        locale,
        comment=previous.comment if previous else None,
        recorded=previous.score if previous else None,
        autorecord=score is not None and (previous is None or previous.score != score),
        job=await _job(request, invitation),
    )


async def _job(request: Request, invitation: Invitation) -> Job | None:
    """What the survey's event said of the job: the page asks the question its email did."""
    return (await state.services(request).store.invitation_jobs([invitation.id])).get(invitation.id)


def survey_form(
    request: Request,
    survey_id: str,
    action: str,
    chosen: int | None,
    locale: str | None,
    *,
    comment: str | None = None,
    recorded: int | None = None,
    autorecord: bool = False,
    error: str | None = None,
    job: Job | None = None,
    **more: Any,
) -> HTMLResponse:
    """The survey's page (a personal link's, or a public link's with `more`): its texts are
    taken in the page's language, so question and page agree; `error` is the words' key for
    what is wrong with what was sent."""
    services = state.services(request)
    survey = services.config.surveys[survey_id]
    words = state.words(request)
    language = words.for_reader(locale, services.config.settings.business.locale).locale
    texts = survey.words(language)
    return page(
        request,
        "survey.html",
        400 if error else 200,
        locale=locale,
        question=services.renderer.survey_question(texts.question, job),
        low_label=texts.low_label,
        high_label=texts.high_label,
        follow_up=texts.follow_up,
        prompt=texts.follow_up[segment(chosen).value] if chosen is not None else None,
        chosen=chosen,
        comment=comment,
        recorded=recorded,
        autorecord=autorecord,
        error=error,
        action=action,
        **more,
    )


@router.post("/s/{token}")
async def survey_answer(request: Request, token: str) -> Response:
    invitation, _, locale = await _invitation(request, token)
    services = state.services(request)
    form = await request.form()
    raw_score, comment = form.get("score"), form.get("comment")
    score = score_of(raw_score)
    comment = comment if isinstance(comment, str) else None
    if form.get("via") == "script":  # the page's own script, on open: held until confirmed
        if score is None or not is_open(invitation, services.clock.now()):
            return PlainTextResponse("not recorded", status_code=400)
        await services.store.add_click(invitation.id, score, services.clock.now())
        return PlainTextResponse("held", status_code=202)
    if score is None or (comment and text_problem(comment, free=True)):
        error = "survey.choose" if score is None else "survey.unreadable"
        job = await _job(request, invitation)
        return survey_form(
            request,
            invitation.survey,
            f"/s/{token}",
            score,
            locale,
            comment=comment,
            error=error,
            job=job,
        )
    saved = await answer_invitation(services, invitation, score, comment, source="page")
    if isinstance(saved, Closed):
        return _closed(request, locale)
    previous = await services.store.invitation_response(invitation.id)
    plain = survey_token(services.signer, invitation.public_id, None)
    offers = (
        await offers_for(request, invitation.customer_id, locale)
        if segment(score) == Segment.PROMOTER
        else {}
    )
    return page(
        request,
        "thanks.html",
        locale=locale,
        segment=segment(score).value,
        score=score,
        comment=previous.comment if previous else None,
        back=f"/s/{plain}",
        **offers,
    )


async def offers_for(request: Request, customer_id: int, locale: str | None) -> dict[str, Any]:
    """A promoter's offers; their code was minted with their answer (`save_answer`), so
    `ensure_advocate` here only reads it."""
    services = state.services(request)
    customer = await services.store.customer(customer_id)
    if customer is None:
        return {}
    advocate = await services.store.ensure_advocate(customer_id, services.clock.now())
    words = state.words(request)
    t = words.for_reader(locale, services.config.settings.business.locale)
    offered = promoter_offers(services, t, advocate.code, first_name(customer))
    if offered["share"] is not None:  # the funnel: one showing of the share links and the QR
        await funnel.shown(services, advocate.id, "thanks", "qr")
    return offered


def promoter_offers(services: Services, t: Words, code: str, name: str | None) -> dict[str, Any]:
    """What the thank-you page offers a promoter, as the owner switched it on: the review
    sites, and their referral link with its share links (in the reader's words) and QR code.
    Also the dashboard's preview of the page."""
    settings = services.config.settings
    sites = settings.reviews.sites if settings.thanks.reviews else []
    reviews = [{"name": site.name, "url": site.url} for site in sites]
    if not settings.thanks.share:
        return {"reviews": reviews, "share": None}
    # each way carries its channel, for the funnel (daemon/engine/funnel.py)
    url = services.url(f"/r/{code}?via=thanks")
    business = settings.business.name
    message = t("thanks.share_message", business=business, url=url)
    body = f"{message}\n\n{name}" if name else message
    links = share_links(message, t("thanks.share_subject", business=business), body)
    qr_url = services.url(f"/r/{code}?via=qr")
    share = {"url": url, "links": links, "qr": Markup(qr_svg(qr_url)), "qr_url": qr_url}
    return {"reviews": reviews, "share": share}


def score_of(value: object) -> int | None:
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    score = int(value)
    return score if 0 <= score <= 10 else None


@router.get("/u/{token}")
async def unsubscribepage(request: Request, token: str) -> Response:
    customer = await _unsubscriber(request, token)
    done = await state.services(request).store.suppression_reason(customer.email) is not None
    return _unsubscribe_page(request, token, customer, done)


@router.post("/u/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """The confirm button, and RFC 8058 one-click (body `List-Unsubscribe=One-Click`): at once."""
    services = state.services(request)
    customer = await _unsubscriber(request, token)
    await services.store.suppress(customer.email, "unsubscribed", services.clock.now())
    return _unsubscribe_page(request, token, customer, done=True)


def _unsubscribe_page(request: Request, token: str, customer: Customer, done: bool) -> Response:
    return page(
        request,
        "unsubscribe.html",
        locale=customer.locale,
        email=customer.email,
        done=done,
        action=f"/u/{token}",
    )
