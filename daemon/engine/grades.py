"""Grading a referral, and checking the introduce-a-friend form.

Not every referral is equal: a name and an address is a lead (C); a friend who asked for a
recommendation and expects contact, with a need given, is B; an advocate who makes the
introduction or sets up the meeting is A.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from daemon.engine.inputs import address, text_problem

MAX_TEXT = 1000


@dataclass(frozen=True)
class Introduction:
    """What the form captures: who, what they need, how soon, how to reach them, consent."""

    friend_name: str | None
    friend_email: str | None
    friend_phone: str | None
    need: str | None
    timing: str | None
    relationship: str | None
    expects_contact: bool
    advocate_introduces: bool
    public_thanks_ok: bool = False
    reward_choice: str | None = None


def grade(intro: Introduction) -> str:
    if intro.advocate_introduces:
        return "A"
    if intro.expects_contact and intro.need:
        return "B"
    return "C"


_PHONE = re.compile(r"^\+?[0-9 ()./-]{6,30}$")


def self_referral(friend_email: str | None, advocate_email: str) -> bool:
    """The friend's address is the advocate's own, compared normalised as the store keys
    addresses (so `Ann@Example.COM` is `ann@example.com`)."""
    return friend_email is not None and _key(friend_email) == _key(advocate_email)


def _key(value: str) -> str:
    try:
        return address(value.strip()).lower()
    except ValueError:
        return value.strip().lower()


def check(
    form: dict[str, str], reward_choices: list[str], advocate_email: str | None = None
) -> tuple[Introduction | None, dict[str, str]]:
    """Validate the submitted form: an Introduction, or the problems by field, in words.
    With `advocate_email` (the introduce form), the advocate's own address is refused."""

    def text(name: str, limit: int = 200) -> str | None:
        raw = form.get(name, "")
        if text_problem(raw.strip(), free=name == "need"):
            problems[name] = "please take out the control characters (perhaps pasted in)"
        value = " ".join(raw.split()) if name != "need" else raw.strip()
        if len(value) > limit:
            problems[name] = f"please keep this under {limit} characters"
        return value or None

    problems: dict[str, str] = {}
    name = text("friend_name", 120)
    email = text("friend_email", 254)
    phone = text("friend_phone", 30)
    need = text("need", MAX_TEXT)
    timing = text("timing", 200)
    relationship = text("relationship", 200)
    if not name:
        problems.setdefault("friend_name", "please give your friend's name")
    if email and "friend_email" not in problems:
        try:
            email = address(email)
        except ValueError as exc:
            problems["friend_email"] = f"this does not look like an email address ({exc})"
    if email and advocate_email and self_referral(email, advocate_email):
        problems["friend_email"] = "this is your own address: please give your friend's"
    if phone and not _PHONE.match(phone) and "friend_phone" not in problems:
        problems["friend_phone"] = "digits, spaces and + ( ) - only"
    if not email and not phone:
        problems.setdefault("friend_email", "please give an email address or a phone number")
    choice = text("reward_choice", 200)
    if choice and choice not in reward_choices:
        problems["reward_choice"] = "please pick one of the rewards offered"
    if problems:
        return None, problems
    return (
        Introduction(
            friend_name=name,
            friend_email=email,
            friend_phone=phone,
            need=need,
            timing=timing,
            relationship=relationship,
            expects_contact=form.get("expects_contact") == "yes",
            advocate_introduces=form.get("advocate_introduces") == "yes",
            public_thanks_ok=form.get("public_thanks_ok") == "yes",
            reward_choice=choice,
        ),
        {},
    )
