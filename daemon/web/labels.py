"""A customer's timeline in the owner's words: "Survey email sent", "Complaint opened", "Referral
ask after a won referral: sent", instead of the store's kinds and row numbers ("email survey
sent", "complaint 12 opened", "referral ask at referral_won: sent")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

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
        re.compile(r"^referral ask at (\w+): (\w+)$"),
        lambda m: f"Referral ask {MOMENTS.get(m[1], _words(m[1]))}: {m[2]}",
    ),
]


def entry(e: TimelineEntry) -> TimelineEntry:
    """The entry with its text in words (unknown texts as they are); an event's detail, its id
    in your system, said so."""
    text = e.text
    for pattern, words in _RULES:
        if found := pattern.match(text):
            text = words(found)
            break
    detail = e.detail
    if e.kind == "event" and detail and detail.startswith("id "):
        detail = f"your reference: {detail[3:]}"
    return replace(e, text=text, detail=detail)
