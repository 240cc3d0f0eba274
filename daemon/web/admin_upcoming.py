"""Upcoming: what Vouch plans to send to customers (surveys, reminders, referral and review
asks, emails in the queue), soonest first, and the recent decisions not to send with their
reasons (a survey or an ask skipped, an email suppressed or cancelled), newest first; each a
page at a time, in the owner's words. Reading only: nothing here changes what is sent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from daemon.store.rows import Person
from daemon.store.upcoming import Line, Upcoming
from daemon.web.labels import EMAILS, MOMENTS
from daemon.web.owner import admin_page, owner
from daemon.web.paging import page_of
from daemon.web.session import Session
from daemon.web.state import services

router = APIRouter(prefix="/admin", include_in_schema=False)
Owner = Annotated[Session, Depends(owner)]

PER_PAGE = 50


@dataclass(frozen=True)
class Shown:
    """A line as the page shows it: when, to whom, what, and why."""

    at: datetime | None
    customer: Person | None
    recipient: str | None
    what: str
    why: str | None
    link: str | None


def _words(name: str | None) -> str:
    return re.sub(r"[._]+", " ", name or "")


def _email(kind: str | None) -> str:
    return EMAILS.get(kind or "", _words(kind).capitalize() or "Email")


def _moment(moment: str | None) -> str:
    return MOMENTS.get(moment or "", _words(moment))


def planned(line: Line) -> Shown:
    what, why = {
        "survey": (f"Survey “{_words(line.what)}”", line.why and f"after {_words(line.why)}"),
        "reminder": (f"Reminder of the survey “{_words(line.what)}”", "no answer yet"),
        "ask": (f"Referral ask {_moment(line.what)}", line.why),
        "waiting": (
            f"Referral ask {_moment(line.what)}, waiting (lapses then)",
            line.why and f"waiting for {line.why}",
        ),
        "review": ("Review ask", "after a good answer"),
        "email": (f"{_email(line.what)}, in the queue", None),
    }.get(line.kind, (_words(line.kind), line.why))
    return _shown(line, what, why)


def not_sent(line: Line) -> Shown:
    what, why = {
        "survey": (f"Survey “{_words(line.what)}” not sent", line.why),
        "ask": (f"Referral ask {_moment(line.what)} not sent", line.why),
        "review": ("Review ask not sent", line.why),
        "suppressed": (
            f"{_email(line.what)} not sent",
            f"the address is on the suppression list ({line.why or 'suppressed'})",
        ),
        "cancelled": (f"{_email(line.what)} cancelled", line.why or "no longer wanted"),
    }.get(line.kind, (_words(line.kind), line.why))
    return _shown(line, what, why)


def _shown(line: Line, what: str, why: str | None) -> Shown:
    link = f"/admin/emails/{line.email_id}" if line.email_id else None
    return Shown(line.at, line.customer, line.recipient, what, why, link)


async def _page(request: Request, session: Session, which: str, page: int) -> Response:
    store: Upcoming = services(request).store
    read = store.planned if which == "planned" else store.not_sent
    shown = await page_of(read, page, PER_PAGE)
    words = planned if which == "planned" else not_sent
    return admin_page(
        request,
        session,
        "admin/upcoming.html",
        which=which,
        lines=[words(line) for line in shown.rows],
        **shown.context(),
    )


@router.get("/upcoming")
async def upcoming(request: Request, session: Owner, page: int = 1) -> Response:
    return await _page(request, session, "planned", page)


@router.get("/upcoming/not-sent")
async def decided_not_to_send(request: Request, session: Owner, page: int = 1) -> Response:
    return await _page(request, session, "not-sent", page)
