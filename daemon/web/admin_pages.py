"""The dashboard's reading pages: one sent email as it was sent, and a preview of every email
and public page with sample data (a customer's own page is web/admin_customers.py).

An email's HTML (or a page preview) is shown in a sandboxed iframe whose own response forbids
scripts, remote images and forms: the owner sees the message as the customer did, and nothing
in it can act in the dashboard.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from daemon.config import Config
from daemon.engine.segments import Segment
from daemon.mail.render import KINDS, RenderedEmail, Renderer
from daemon.store.dashboard import Dashboard
from daemon.surveys.definitions import Survey
from daemon.web.owner import Refused, admin_page, owner
from daemon.web.pages import promoter_offers
from daemon.web.session import Session
from daemon.web.state import services
from daemon.web.state import words as page_words

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

#: What a preview frame may do: show itself with its own styles, nothing else.
FRAME_POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'self'"
)
_LOCALE = re.compile(r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*$")
PAGES = ("survey", "thanks")
SAMPLE_CODE = "SAMPLE-CODE"  # a promoter's referral code in the thank-you page's preview
SAMPLE_SCORES = {Segment.PROMOTER: 10, Segment.PASSIVE: 8, Segment.DETRACTOR: 4}
SAMPLE_COMMENTS = {
    Segment.PROMOTER: "The crew were tidy and finished a day early.",
    Segment.PASSIVE: "Good work, but the start date slipped twice.",
    Segment.DETRACTOR: "Nobody called back about the leaking tap.",
}


def frame(html: str) -> HTMLResponse:
    return HTMLResponse(
        html,
        headers={
            "Content-Security-Policy": FRAME_POLICY,
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )


# sent emails ------------------------------------------------------------------------------------


def _parts(raw: bytes) -> tuple[EmailMessage, str | None, str | None, list[str]]:
    """The message, its text and HTML parts, and its attachments' names."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    text_part, html_part = message.get_body(("plain",)), message.get_body(("html",))
    text = _content(text_part)
    html = _content(html_part)
    names = [str(part.get_filename() or "unnamed") for part in message.iter_attachments()]
    return message, text, html, names


def _content(part: Any) -> str | None:
    return str(part.get_content()).replace("\r\n", "\n") if part is not None else None


@router.get("/emails/{row_id}")
async def sent_email(request: Request, row_id: int, session: Owner) -> Response:
    store: Dashboard = services(request).store
    stored = await store.stored_email(row_id)
    if stored is None:
        raise Refused(404, "No such email", f"There is no email {row_id} in the outbox.")
    message, text, html, attachments = _parts(stored.message)
    return admin_page(
        request,
        session,
        "admin/email.html",
        stored=stored,
        headers={k: str(message[k]) for k in ("From", "To", "Subject", "Date") if message[k]},
        text=text,
        has_html=html is not None,
        attachments=attachments,
    )


@router.get("/emails/{row_id}/html")
async def sent_email_html(request: Request, row_id: int, session: Owner) -> Response:
    store: Dashboard = services(request).store
    stored = await store.stored_email(row_id)
    html = _parts(stored.message)[2] if stored else None
    if html is None:
        raise Refused(404, "No such email", f"Email {row_id} has no HTML part.")
    return frame(html)


# templates --------------------------------------------------------------------------------------


def _locale(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    if not _LOCALE.match(raw):
        raise Refused(400, "Unknown locale", f"{raw!r} is not a locale such as fr or pt-BR.")
    return raw


def _preview(renderer: Renderer, kind: str, locale: str | None) -> RenderedEmail:
    """A kind with its sample data, as a reader of `locale` gets it (None: the business's)."""
    return renderer.preview(kind, locale)


@router.get("/templates")
async def templates_page(request: Request, session: Owner, locale: str | None = None) -> Response:
    svc = services(request)
    chosen = _locale(locale)
    previews: list[dict[str, Any]] = []
    for kind, spec in KINDS.items():
        try:
            rendered = _preview(svc.renderer, kind, chosen)
            previews.append(
                {
                    "kind": kind,
                    "about": spec.description,
                    "subject": rendered.subject,
                    "text": rendered.text,
                    "error": None,
                }
            )
        except Exception as exc:  # an owner's template: show the problem, keep the page
            previews.append({"kind": kind, "about": spec.description, "error": str(exc)})
    return admin_page(
        request,
        session,
        "admin/templates.html",
        previews=previews,
        locale=chosen,
        locales=svc.renderer.locales(),
        surveys=sorted(svc.config.surveys),
        segments=[s.value for s in Segment],
    )


@router.get("/templates/{kind}/html")
async def template_html(
    request: Request, kind: str, session: Owner, locale: str | None = None
) -> Response:
    if kind not in KINDS:
        raise Refused(404, "No such email", f"There is no email kind {kind!r}.")
    return frame(_preview(services(request).renderer, kind, _locale(locale)).html)


@router.get("/templates/pages/{survey_id}/{segment}/{page}")
async def page_preview(
    request: Request,
    survey_id: str,
    segment: str,
    page: str,
    session: Owner,
    locale: str | None = None,
) -> Response:
    """The survey page (with a score of that segment chosen) or the thanks page after it."""
    svc = services(request)
    survey = svc.config.surveys.get(survey_id)
    if survey is None or segment not in {s.value for s in Segment} or page not in PAGES:
        raise Refused(404, "No such page", "There is no such page preview.")
    band = Segment(segment)
    templates: Jinja2Templates = request.app.state.pages
    chosen = _locale(locale)
    if page == "survey":
        return frame(survey_page(templates, svc.config, svc.renderer, survey, band, chosen))
    business = svc.config.settings.business
    t = page_words(request).for_reader(chosen, business.locale)
    context: dict[str, Any] = {
        "business": business,
        "t": t,
        "segment": band.value,
        "score": SAMPLE_SCORES[band],
        "comment": SAMPLE_COMMENTS[band],
        "back": "#",
        "preview": True,  # its frame runs no script: the copy button stays hidden
    }
    if band == Segment.PROMOTER:  # the offers as the owner set them, for a sample code
        context |= promoter_offers(svc, t, SAMPLE_CODE, "Ann")
    return frame(templates.get_template("thanks.html").render(context))


def survey_page(
    templates: Jinja2Templates,
    config: Config,
    renderer: Renderer,
    survey: Survey,
    band: Segment,
    locale: str | None,
) -> str:
    """The survey page with a score of `band` chosen, as a reader of `locale` sees it, from
    `config` and `renderer` (those in force, or an edit's on trial: web/admin_edit.py)."""
    business = config.settings.business
    t = config.words.for_reader(locale, business.locale)
    texts = survey.words(t.locale)
    context: dict[str, Any] = {
        "business": business,
        "t": t,
        "question": renderer.survey_question(texts.question),
        "low_label": texts.low_label,
        "high_label": texts.high_label,
        "follow_up": texts.follow_up,
        "prompt": texts.follow_up[band.value],
        "chosen": SAMPLE_SCORES[band],
        "comment": None,
        "recorded": None,
        "autorecord": False,
        "error": None,
        "action": "#",
    }
    return templates.get_template("admin/preview_survey.html").render(context)
