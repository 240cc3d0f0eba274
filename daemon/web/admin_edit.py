"""The owner's words edited in the browser: an email kind's text (templates/email/KIND.txt and
.html, and each translation), a survey's question and follow-ups (surveys/ID.toml, comments
kept), and the education page (templates/pages/referral_education.toml).

Each edit is checked as `vouch check` checks the files (run/checked.load_checked, on a trial
copy: owner/edits.trial) and previewed in each language from that trial; Preview changes
nothing, and an edit with a problem is never saved (the problem names the file and line).
Save writes the owner's file atomically and puts the files in force at once (run/checked.swap,
as SIGHUP does) in this process, and, through the generation the store keeps, in every other
process sharing the store before it renders another email (run/runtime.py): the save is
acknowledged only once it is recorded there. Changing what customers receive is an owner's
alone; each save is recorded.

A preview's HTML is shown in a sandboxed frame (admin_pages.FRAME_POLICY) from a short-lived
copy kept in the store for the session that made it (store/previews.py), so the frame's request
finds it whichever web process it reaches. (A signed URL carrying the preview would need no
store, but an email's HTML is tens of kilobytes: too long for a URL.)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.templating import Jinja2Templates

from daemon.config import Config
from daemon.engine.segments import Segment
from daemon.errors import ConfigError, StoreUnavailable
from daemon.mail.render import KINDS, Renderer
from daemon.owner import edits
from daemon.run.checked import load_checked, swap
from daemon.run.services import Services
from daemon.web.admin_pages import frame, survey_page
from daemon.web.owner import Refused, admin_page, checked_form, owner, record
from daemon.web.session import Session
from daemon.web.state import services

log = logging.getLogger(__name__)

router = APIRouter(prefix="/admin", include_in_schema=False)

FIELD_LIMIT = 200_000  # characters in one edited file


async def owner_of_words(request: Request) -> Session:
    """Editing what customers receive: an owner's alone (403 for staff, with the reason)."""
    session = await owner(request)
    if session.who.role != "owner":
        raise Refused(
            403,
            "Owners only",
            "Only an owner of the business can change the emails, surveys and pages customers "
            "receive. Nothing was changed.",
        )
    return session


OwnerOnly = Annotated[Session, Depends(owner_of_words)]


@dataclass
class Frame:
    """One preview: what it shows (a language, a segment) and where its HTML is kept."""

    label: str
    token: str
    subject: str | None = None
    text: str | None = None


@dataclass
class Trial:
    """What an edit came to: the problems (none: it may be saved) and its previews."""

    problems: list[str] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)


def _holder(session: Session) -> str:
    return hashlib.sha256(session.id).hexdigest()


async def _keep(svc: Services, session: Session, html: str) -> str:
    token = secrets.token_hex(16)
    await svc.store.keep_preview(token, _holder(session), html, svc.clock.now())
    return token


@router.get("/edit/preview/{token}")
async def preview_frame(request: Request, token: str, session: OwnerOnly) -> Response:
    svc = services(request)
    found = await svc.store.preview(token, _holder(session), svc.clock.now())
    if found is None:
        raise Refused(404, "No such preview", "This preview has gone; press Preview again.")
    return frame(found)


async def _try(
    request: Request,
    session: Session,
    changed: dict[Path, str],
    frames: Any,
    save: bool,
) -> Trial:
    """`changed` (paths under the config's folder → new text) checked as `vouch check` does,
    previewed by `frames(config, renderer)`, and, when `save` and nothing is wrong, written
    and put in force. The checks (every email kind rendered) run off the event loop."""
    svc = services(request)
    trial = Trial()
    with edits.trial(svc.config.path, changed) as trial_path:
        try:
            config, renderer = await asyncio.to_thread(
                load_checked, trial_path, svc.environ, svc.clock
            )
        except ConfigError as exc:
            trial.problems = [str(p) for p in exc.problems]
            return trial
        for label, html, subject, text in frames(config, renderer):
            trial.frames.append(Frame(label, await _keep(svc, session, html), subject, text))
    if save:
        files = {svc.config.root / path: text for path, text in changed.items()}
        before = {path: _read(path) for path in files}
        for path, text in files.items():
            edits.write_atomically(path, text)
        try:
            config, renderer = await asyncio.to_thread(
                load_checked, svc.config.path, svc.environ, svc.clock
            )
        except ConfigError as exc:  # another file changed on disk meanwhile: put back, said
            for path, text in before.items():
                edits.write_atomically(path, text)
            trial.problems = [str(p) for p in exc.problems]
            return trial
        old = svc.config, svc.renderer
        swap(svc, config, renderer)
        try:
            await _saved(svc)
        except StoreUnavailable as exc:  # the others could not be told: nothing is saved
            for path, text in before.items():
                edits.write_atomically(path, text)
            swap(svc, *old)
            trial.problems = [f"Nothing was saved: the store cannot be reached ({exc})."]
    return trial


async def _saved(svc: Services) -> None:
    """Every process sharing the store told of the save: the files' generation raised (each
    compares it with its own before it renders an email) and, on PostgreSQL, said at once."""
    known = svc.generation
    latest = await svc.store.config_saved(svc.clock.now())
    # this process loaded the files after writing them: current, unless another save came
    # between (then it reloads at its next look, like the others)
    svc.generation = latest if known == latest - 1 else None
    try:
        await svc.store.notify_config()
    except StoreUnavailable as exc:  # recorded: the others find it at their next poll
        log.warning("could not tell the other processes of the save at once: %s", exc)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    text = value if isinstance(value, str) else ""
    if len(text) > FIELD_LIMIT:
        raise Refused(413, "Too long", f"The text is longer than {FIELD_LIMIT:,} characters.")
    return text.replace("\r\n", "\n")


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


# the list ---------------------------------------------------------------------------------------


@router.get("/edit")
async def edit_index(request: Request, session: OwnerOnly) -> Response:
    svc = services(request)
    emails = [
        (kind, spec.description, svc.renderer.translations(kind)) for kind, spec in KINDS.items()
    ]
    return admin_page(
        request,
        session,
        "admin/edit.html",
        emails=emails,
        surveys=sorted(svc.config.surveys),
        education=(svc.config.root / edits.EDUCATION).is_file(),
    )


# an email kind ----------------------------------------------------------------------------------


def _email_files(renderer: Renderer, kind: str, locale: str | None) -> tuple[Path, Path]:
    if kind not in KINDS:
        raise Refused(404, "No such email", f"There is no email kind {kind!r}.")
    if locale and locale not in renderer.translations(kind):
        raise Refused(404, "No such translation", f"{kind} has no {locale!r} translation.")
    stem = f"{kind}.{locale}" if locale else kind
    folder = Path("templates") / "email"
    return folder / f"{stem}.txt", folder / f"{stem}.html"


async def _email_page(
    request: Request,
    session: Session,
    kind: str,
    locale: str | None,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    trial: Trial | None = None,
    notice: str | None = None,
) -> Response:
    svc = services(request)
    txt, html = _email_files(svc.renderer, kind, locale)
    root = svc.config.root
    return admin_page(
        request,
        session,
        "admin/edit_email.html",
        status,
        kind=kind,
        about=KINDS[kind].description,
        locale=locale,
        locales=svc.renderer.translations(kind),
        files={"txt": txt.as_posix(), "html": html.as_posix()},
        typed=typed or {"txt": _read(root / txt), "html": _read(root / html)},
        trial=trial,
        notice=notice,
    )


@router.get("/edit/email/{kind}")
async def edit_email(
    request: Request, kind: str, session: OwnerOnly, locale: str = "", done: str = ""
) -> Response:
    notice = "Saved: the next email of this kind uses it." if done == "saved" else None
    return await _email_page(request, session, kind, locale or None, notice=notice)


@router.post("/edit/email/{kind}")
async def save_email(request: Request, kind: str, session: OwnerOnly) -> Response:
    form = await checked_form(request, session)
    svc = services(request)
    locale = str(form.get("locale") or "") or None
    txt, html = _email_files(svc.renderer, kind, locale)
    typed = {"txt": _text(form, "txt"), "html": _text(form, "html")}
    save = form.get("action") == "save"

    def frames(config: Config, renderer: Renderer) -> list[tuple[str, str, str, str]]:
        shown = renderer.preview(kind, locale)
        return [(locale or config.settings.business.locale, shown.html, shown.subject, shown.text)]

    trial = await _try(request, session, {txt: typed["txt"], html: typed["html"]}, frames, save)
    if trial.problems or not save:
        status = 422 if trial.problems else 200
        return await _email_page(
            request, session, kind, locale, status=status, typed=typed, trial=trial
        )
    await record(request, session, f"edited {txt.name} and {html.name}", f"email:{kind}")
    back = f"/admin/edit/email/{kind}?" + (f"locale={locale}&" if locale else "") + "done=saved"
    return RedirectResponse(back, status_code=303)


# a survey ---------------------------------------------------------------------------------------


def _survey_file(config: Config, survey_id: str) -> Path:
    if survey_id not in config.surveys:
        raise Refused(404, "No such survey", f"There is no survey {survey_id!r}.")
    return Path("surveys") / f"{survey_id}.toml"


def _survey_words(config: Config, survey_id: str) -> dict[str, dict[str, str]]:
    """The survey's texts by language ("" its own), as the form shows them."""
    survey = config.surveys[survey_id]
    words = {"": {"question": survey.question, **survey.follow_up.model_dump()}}
    for tag, texts in survey.locales.items():
        follow = texts.follow_up.model_dump()
        words[tag] = {"question": texts.question or ""} | {
            s: follow.get(s) or "" for s in edits.SEGMENTS
        }
    return words


async def _survey_page(
    request: Request,
    session: Session,
    survey_id: str,
    *,
    status: int = 200,
    typed: dict[str, dict[str, str]] | None = None,
    trial: Trial | None = None,
    notice: str | None = None,
) -> Response:
    svc = services(request)
    path = _survey_file(svc.config, survey_id)
    return admin_page(
        request,
        session,
        "admin/edit_survey.html",
        status,
        survey_id=survey_id,
        file=path.as_posix(),
        typed=typed or _survey_words(svc.config, survey_id),
        language=svc.config.settings.business.locale,
        segments=edits.SEGMENTS,
        trial=trial,
        notice=notice,
    )


@router.get("/edit/survey/{survey_id}")
async def edit_survey(
    request: Request, survey_id: str, session: OwnerOnly, done: str = ""
) -> Response:
    notice = "Saved: the next survey email and page use it." if done == "saved" else None
    return await _survey_page(request, session, survey_id, notice=notice)


@router.post("/edit/survey/{survey_id}")
async def save_survey(request: Request, survey_id: str, session: OwnerOnly) -> Response:
    form = await checked_form(request, session)
    svc = services(request)
    path = _survey_file(svc.config, survey_id)
    shown = _survey_words(svc.config, survey_id)
    typed = {
        tag: {key: _text(form, f"{tag or 'own'}.{key}") for key in texts}
        for tag, texts in shown.items()
    }
    save = form.get("action") == "save"
    try:
        text = edits.survey_text(_read(svc.config.root / path), path.as_posix(), typed)
    except ConfigError as exc:
        trial = Trial(problems=[str(p) for p in exc.problems])
        return await _survey_page(request, session, survey_id, status=422, typed=typed, trial=trial)
    templates: Jinja2Templates = request.app.state.pages

    def frames(config: Config, renderer: Renderer) -> list[tuple[str, str, None, None]]:
        survey = config.surveys[survey_id]
        tags = [None, *sorted(survey.locales)]
        return [
            (
                f"{tag or config.settings.business.locale}, {band.value}",
                survey_page(templates, config, renderer, survey, band, tag),
                None,
                None,
            )
            for tag in tags
            for band in Segment
        ]

    trial = await _try(request, session, {path: text}, frames, save)
    if trial.problems or not save:
        status = 422 if trial.problems else 200
        return await _survey_page(
            request, session, survey_id, status=status, typed=typed, trial=trial
        )
    await record(request, session, f"edited {path.name}", f"survey:{survey_id}")
    return RedirectResponse(f"/admin/edit/survey/{survey_id}?done=saved", status_code=303)


# the education page -----------------------------------------------------------------------------

PARTS = ("ideal_client", "core_message", "listen_for", "after_referral")


def _education_typed(config: Config) -> dict[str, str]:
    taught = config.education
    if taught is None:
        raise Refused(404, "No education page", f"There is no {edits.EDUCATION.as_posix()}.")
    return {
        "ideal_client": taught.ideal_client,
        "core_message": taught.core_message,
        "listen_for": "\n".join(taught.listen_for),
        "after_referral": taught.after_referral,
        "example": "yes" if taught.example else "",
    }


async def _education_page(
    request: Request,
    session: Session,
    *,
    status: int = 200,
    typed: dict[str, str] | None = None,
    trial: Trial | None = None,
    notice: str | None = None,
) -> Response:
    svc = services(request)
    return admin_page(
        request,
        session,
        "admin/edit_education.html",
        status,
        file=edits.EDUCATION.as_posix(),
        typed=typed or _education_typed(svc.config),
        trial=trial,
        notice=notice,
    )


@router.get("/edit/education")
async def edit_education(request: Request, session: OwnerOnly, done: str = "") -> Response:
    notice = "Saved: the how-to-refer page shows it now." if done == "saved" else None
    return await _education_page(request, session, notice=notice)


@router.post("/edit/education")
async def save_education(request: Request, session: OwnerOnly) -> Response:
    form = await checked_form(request, session)
    svc = services(request)
    _education_typed(svc.config)  # the page exists
    typed = {key: _text(form, key) for key in PARTS}
    typed["example"] = "yes" if form.get("example") == "yes" else ""
    parts: dict[str, str | list[str] | bool] = {
        key: typed[key] for key in PARTS if key != "listen_for"
    }
    parts["listen_for"] = [
        line.strip() for line in typed["listen_for"].splitlines() if line.strip()
    ]
    parts["example"] = bool(typed["example"])
    save = form.get("action") == "save"
    path = edits.EDUCATION
    try:
        text = edits.education_text(_read(svc.config.root / path), path.as_posix(), parts)
    except ConfigError as exc:
        trial = Trial(problems=[str(p) for p in exc.problems])
        return await _education_page(request, session, status=422, typed=typed, trial=trial)
    templates: Jinja2Templates = request.app.state.pages

    def frames(config: Config, renderer: Renderer) -> list[tuple[str, str, None, None]]:
        business = config.settings.business
        shown = []
        for tag in sorted({business.locale, *config.words.locales()}):
            t = config.words.for_reader(tag, business.locale)
            html = templates.get_template("education.html").render(
                business=business,
                t=t,
                advocate_name="Ann",
                education=config.education,
                introduce="#",
                landing="#",
            )
            shown.append((tag, html, None, None))
        return shown

    trial = await _try(request, session, {path: text}, frames, save)
    if trial.problems or not save:
        status = 422 if trial.problems else 200
        return await _education_page(request, session, status=status, typed=typed, trial=trial)
    await record(request, session, f"edited {path.name}", "page:education")
    return RedirectResponse("/admin/edit/education?done=saved", status_code=303)
