"""A survey's public link (`/p/{token}`) and the confirmation of an answer given through it
(`/p/c/{token}`), both reached through signed tokens. A GET never changes anything (link
scanners fetch every link); the answer and its confirmation are POSTs. What a visitor is told
does not depend on whether the address they typed is a customer's (daemon/surveys/public.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from daemon.engine.inputs import address, text_problem
from daemon.engine.segments import Segment, segment
from daemon.mail.tokens import read_public_answer_token, read_public_survey_token
from daemon.store.public_answers import PublicAnswer
from daemon.surveys import public
from daemon.web import state
from daemon.web.pages import PageNotFound, offers_for, page, score_of, survey_form

router = APIRouter(include_in_schema=False)


def _survey_id(request: Request, token: str) -> str:
    """The survey a public link names, while it is offered publicly."""
    services = state.services(request)
    survey_id = read_public_survey_token(services.signer, token)
    survey = services.config.surveys.get(survey_id) if survey_id else None
    if survey is None or not survey.public:
        raise PageNotFound
    return survey.id


def _form(
    request: Request,
    token: str,
    *,
    chosen: int | None = None,
    email: str = "",
    comment: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """The survey's page with the address asked for, in the business's language (nobody's
    locale is known yet)."""
    survey_id = _survey_id(request, token)
    action = f"/p/{token}"
    return survey_form(
        request, survey_id, action, chosen, None, comment=comment, error=error, ask_email=True,
        email=email,
    )  # fmt: skip


@router.get("/p/{token}")
async def public_page(request: Request, token: str) -> Response:
    return _form(request, token)


@router.post("/p/{token}")
async def public_answer(request: Request, token: str) -> Response:
    survey_id = _survey_id(request, token)
    form = await request.form()
    raw_email, raw_comment = form.get("email"), form.get("comment")
    typed = raw_email.strip() if isinstance(raw_email, str) else ""
    comment = raw_comment if isinstance(raw_comment, str) and raw_comment.strip() else None
    score = score_of(form.get("score"))
    error = None
    try:
        email = address(typed)
    except ValueError:
        error, email = "survey.email_invalid", ""
    if score is None:
        error = "survey.choose"
    elif comment and text_problem(comment, free=True):
        error = "survey.unreadable"
    if error or score is None:
        return _form(request, token, chosen=score, email=typed, comment=comment, error=error)
    await public.submit(state.services(request), survey_id, email, score, comment, None)
    return page(request, "message.html", message="public_thanks")


async def _answer(request: Request, token: str) -> PublicAnswer:
    services = state.services(request)
    public_id = read_public_answer_token(services.signer, token)
    answer = await services.store.public_answer(public_id) if public_id else None
    if answer is None or answer.customer_id is None:
        raise PageNotFound
    return answer


@router.get("/p/c/{token}")
async def confirm_page(request: Request, token: str) -> Response:
    answer = await _answer(request, token)
    if answer.state != "pending":
        return page(request, "message.html", locale=answer.locale, message="public_confirmed")
    return page(
        request,
        "public_confirm.html",
        locale=answer.locale,
        score=answer.score,
        comment=answer.comment,
        action=f"/p/c/{token}",
    )


@router.post("/p/c/{token}")
async def confirm(request: Request, token: str) -> Response:
    answer = await _answer(request, token)
    services = state.services(request)
    outcome = await public.confirm(services, answer)
    if outcome.state is not public.Confirmed.COUNTED or answer.customer_id is None:
        return page(request, "message.html", locale=answer.locale, message="public_confirmed")
    promoter = segment(answer.score) == Segment.PROMOTER
    offers = await offers_for(request, answer.customer_id, answer.locale) if promoter else {}
    return page(
        request,
        "thanks.html",
        locale=answer.locale,
        segment=segment(answer.score).value,
        score=answer.score,
        comment=answer.comment,
        back=None,
        **offers,
    )
