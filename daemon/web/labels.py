"""A customer's timeline in the owner's words: "Survey email sent", "Complaint opened", "Referral
ask after a won referral: sent", "Introduced Dan (grade B)" linked to the referral's page,
instead of the store's kinds and ids ("email survey sent", "complaint 12 opened", "referral ask
at referral_won: sent", "introduced Dan (grade B, r_…)")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from daemon.store.rows import TimelineEntry

EMAILS = {
    "test": "Test email",
    "survey": "Survey email",
    "reminder": "Survey reminder",
    "owner_alert": "Alert to you about a low score",
    "we_hear_you": "We-hear-you note",
    "referral_ask": "Referral ask",
    "advocate_thanks": "Thank-you for an introduction",
    "friend_note": "Note to the friend introduced",
    "owner_referral": "New-referral email to you",
    "advocate_update": "Referral news to the advocate",
    "advocate_reward": "Thank-you with the reward",
    "partner_intro_ask": "Partner's introduction ask",
    "partner_thanks": "Thank-you to the partner",
    "owner_digest": "Digest to you",
}
EMAIL_STATES = {"queued": "waiting to go", "sending": "going out", "failed": "failed"}
MOMENTS = {
    "project_completed": "after a finished project",
    "testimonial": "after their praise",
    "referral_won": "after a won referral",
    "survey_answer": "after a good answer",
    "partner_joined": "after they joined as a partner",
}


def _words(name: str) -> str:
    """purchase.completed → purchase completed."""
    return re.sub(r"[._]+", " ", name)


def _email(m: re.Match[str]) -> str:
    kind, state = m[1], m[2]
    return f"{EMAILS.get(kind, _words(kind).capitalize())} {EMAIL_STATES.get(state, state)}"


_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^event (\S+)$"), lambda m: _words(m[1]).capitalize()),
    (re.compile(r"^email (\S+) (\S+)$"), _email),
    (re.compile(r"^complaint \d+ (opened|resolved)$"), lambda m: f"Complaint {m[1]}"),
    (
        re.compile(r"^survey (\S+) (.+)$"),
        lambda m: f"Survey “{_words(m[1])}” {m[2]}",
    ),
    (
        re.compile(r"^answered (\d+) \((\w+)\) to (\S+), by (\w+)$"),
        lambda m: f"Answered {m[1]} ({m[2]}) to “{_words(m[3])}”, by {m[4]}",
    ),
    (
        re.compile(r"^introduced (.+) \(grade (\w), r_[\w-]+\)$"),
        lambda m: f"Introduced {m[1]} (grade {m[2]})",
    ),
    (
        re.compile(r"^referral r_[\w-]+ of (.+) is (\w+)(, value .+)?$"),
        lambda m: f"Referral of {m[1]}: {m[2]}{m[3] or ''}",
    ),
    (re.compile(r"^referred by (.+) \(r_[\w-]+\)$"), lambda m: f"Introduced by {m[1]}"),
    (
        re.compile(r"^referral ask at (\w+): (\w+)$"),
        lambda m: f"Referral ask {MOMENTS.get(m[1], _words(m[1]))}: {m[2]}",
    ),
]


@dataclass(frozen=True)
class Line:
    """A timeline entry as the customer's page shows it; `link` opens what it is about."""

    at: datetime
    kind: str
    text: str
    detail: str | None
    link: str | None
    complaint_id: int | None
    item: str | None


_REFERRAL = re.compile(r"\b(r_[\w-]+)(?![\w-])")


def entry(e: TimelineEntry) -> Line:
    """The entry in words (a text it does not know, as it is), linked to the email or the
    referral it is about; an event's detail, its id in your system, said so."""
    text = e.text
    for pattern, words in _RULES:
        if found := pattern.match(text):
            text = words(found)
            break
    link = f"/admin/emails/{e.email_id}" if e.email_id else None
    if e.kind == "referral" and (referral := _REFERRAL.search(e.text)):
        link = f"/admin/referrals/{referral[1]}"
    detail = e.detail
    if e.kind == "event" and detail and detail.startswith("id "):
        detail = f"your reference: {detail[3:]}"
    return Line(e.at, e.kind, text, detail, link, e.complaint_id, e.item)
