"""The public pages customers reach from their emails: the survey and unsubscribe.

Reached only through signed tokens. A GET never changes anything (mail scanners fetch every
link); answers and unsubscribes are POSTs. An unknown or tampered token gets a plain 404.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from starlette.templating import Jinja2Templates

from daemon.answers import Closed, answer_invitation, is_open
from daemon.engine.segments import segment
from daemon.services import Services
from daemon.store.base import Invitation
from daemon.tokens import read_survey_token, read_unsubscribe_token, survey_token

router = APIRouter(include_in_schema=False)


def _services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.pages
    context["business"] = _services(request).config.settings.business
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def not_found(request: Request) -> HTMLResponse:
    return page(
        request,
        "message.html",
        404,
        title="Page not found",
        text="This link is not valid. Please use the link from your email as it is.",
    )


def _closed(request: Request) -> HTMLResponse:
    return page(
        request,
        "message.html",
        410,
        title="This survey has closed",
        text="Thank you for wanting to answer. This survey is no longer open.",
    )


async def _invitation(request: Request, token: str) -> tuple[Invitation, int | None] | None:
    services = _services(request)
    parsed = read_survey_token(services.signer, token)
    if parsed is None:
        return None
    invitation = await services.store.invitation_by_public_id(parsed[0])
    return (invitation, parsed[1]) if invitation else None


@router.get("/s/{token}")
async def surveypage(request: Request, token: str) -> Response:
    found = await _invitation(request, token)
    if found is None:
        return not_found(request)
    invitation, score = found
    services = _services(request)
    if (
        not is_open(invitation, services.clock.now())
        or invitation.survey not in services.config.surveys
    ):
        return _closed(request)
    previous = await services.store.invitation_response(invitation.id)
    chosen = score if score is not None else (previous.score if previous else None)
    return _survey_form(
        request,
        invitation,
        token,
        chosen,
        comment=previous.comment if previous else None,
        recorded=previous.score if previous else None,
        autorecord=score is not None and (previous is None or previous.score != score),
    )


def _survey_form(
    request: Request,
    invitation: Invitation,
    token: str,
    chosen: int | None,
    *,
    comment: str | None = None,
    recorded: int | None = None,
    autorecord: bool = False,
    error: str | None = None,
) -> HTMLResponse:
    services = _services(request)
    survey = services.config.surveys[invitation.survey]
    follow_up = survey.follow_up
    prompt = (
        getattr(follow_up, segment(chosen).value)
        if chosen is not None
        else "Anything you would like to add?"
    )
    return page(
        request,
        "survey.html",
        400 if error else 200,
        question=services.renderer.survey_question(survey.question),
        low_label=survey.low_label,
        high_label=survey.high_label,
        follow_up=follow_up,
        prompt=prompt,
        chosen=chosen,
        comment=comment,
        recorded=recorded,
        autorecord=autorecord,
        error=error,
        action=f"/s/{token}",
    )


@router.post("/s/{token}")
async def survey_answer(request: Request, token: str) -> Response:
    found = await _invitation(request, token)
    if found is None:
        return not_found(request)
    invitation, _ = found
    services = _services(request)
    form = await request.form()
    raw_score, comment = form.get("score"), form.get("comment")
    score = _score(raw_score)
    comment = comment if isinstance(comment, str) else None
    if form.get("via") == "script":  # the page's own script, on open: held until confirmed
        if score is None or not is_open(invitation, services.clock.now()):
            return PlainTextResponse("not recorded", status_code=400)
        await services.store.add_click(invitation.id, score, services.clock.now())
        return PlainTextResponse("held", status_code=202)
    if score is None:
        return _survey_form(
            request,
            invitation,
            token,
            None,
            comment=comment,
            error="Please choose a score from 0 to 10.",
        )
    saved = await answer_invitation(services, invitation, score, comment, source="page")
    if isinstance(saved, Closed):
        return _closed(request)
    previous = await services.store.invitation_response(invitation.id)
    plain = survey_token(services.signer, invitation.public_id, None)
    return page(
        request,
        "thanks.html",
        segment=segment(score).value,
        score=score,
        comment=previous.comment if previous else None,
        back=f"/s/{plain}",
    )


def _score(value: object) -> int | None:
    if not isinstance(value, str) or not value.strip().isdigit():
        return None
    score = int(value)
    return score if 0 <= score <= 10 else None


@router.get("/u/{token}")
async def unsubscribepage(request: Request, token: str) -> Response:
    services = _services(request)
    public_id = read_unsubscribe_token(services.signer, token)
    customer = await services.store.customer_by_public_id(public_id) if public_id else None
    if customer is None:
        return not_found(request)
    done = await services.store.suppression_reason(customer.email) is not None
    return page(request, "unsubscribe.html", email=customer.email, done=done, action=f"/u/{token}")


@router.post("/u/{token}")
async def unsubscribe(request: Request, token: str) -> Response:
    """The confirm button, and RFC 8058 one-click (body `List-Unsubscribe=One-Click`): at once."""
    services = _services(request)
    public_id = read_unsubscribe_token(services.signer, token)
    customer = await services.store.customer_by_public_id(public_id) if public_id else None
    if customer is None:
        return not_found(request)
    await services.store.suppress(customer.email, "unsubscribed", services.clock.now())
    return page(request, "unsubscribe.html", email=customer.email, done=True, action=f"/u/{token}")
