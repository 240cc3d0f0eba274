"""A believable few months of a small business, put in through the real API and pages, for the
dashboard tests and screenshots: customers, answers over six months, a detractor's complaint,
advocates and their referrals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import httpx

from daemon.engine.grades import Introduction
from daemon.run.services import Services
from daemon.store.rows import NewReferral

from helpers import TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PASSWORD = "harbour-lights-at-dusk-42"
PASSWORD_ENV = "VOUCH_DASHBOARD_PASSWORD"
ENV_EXTRA = {PASSWORD_ENV: PASSWORD}
CONFIG_CHANGES = {"secrets": {"dashboard_password_env": PASSWORD_ENV}}

# (day, name, score, comment): answers to the post-purchase survey.
ANSWERS: list[tuple[str, str, int, str | None]] = [
    ("2025-10-10", "Olivia Bennett", 9, "Great kitchen fit, very tidy crew."),
    ("2025-10-10", "Harry Collins", 6, "Took longer than quoted."),
    ("2025-10-10", "Amelia Hughes", 8, None),
    ("2025-10-10", "George Ward", 10, None),
    ("2025-11-10", "Isla Turner", 9, "Would use again."),
    ("2025-11-10", "Jack Morris", 5, "The skirting boards were left unpainted."),
    ("2025-11-10", "Ava Price", 10, "Loved the new bathroom."),
    ("2025-11-10", "Noah Foster", 7, None),
    ("2025-11-10", "Mia Russell", 9, None),
    ("2025-12-10", "Leo Griffiths", 10, "Finished before Christmas, as promised!"),
    ("2025-12-10", "Grace Palmer", 8, "Good, a little noisy."),
    ("2025-12-10", "Oscar Mason", 9, None),
    ("2026-01-10", "Freya Lloyd", 10, "Superb loft conversion."),
    ("2026-01-10", "Charlie Kelly", 9, "Clear quote, no surprises."),
    ("2026-01-10", "Ella Barker", 3, "Water damage after the plumber left."),
    ("2026-01-10", "Alfie Fox", 10, None),
    ("2026-01-10", "Lily Webb", 8, None),
    ("2026-02-10", "Thomas Hunt", 10, "Best builders we have had."),
    ("2026-02-10", "Sophie Wells", 9, "Friendly and on time."),
    ("2026-02-10", "Henry Cole", 10, None),
    ("2026-02-10", "Poppy Reid", 9, "Spotless site every evening."),
    ("2026-02-10", "Archie Ross", 7, "Fine, but parking was a pain."),
    ("2026-02-10", "Evie Shaw", 10, None),
    ("2026-03-01", "Jacob Hall", 9, "Great value for money."),
    ("2026-03-01", "Emily Clarke", 10, None),
]
DETRACTOR = (
    "Ruby Stone",
    "ruby@example.com",
    2,
    "The tiles are cracked and nobody has called me back.",
)
ADVOCATE = ("Olivia Bennett", "olivia.bennett@example.com")
FRIENDS = [  # (name, email, need, timing, extra form fields)
    (
        "Daniel Price",
        "daniel@example.net",
        "A new kitchen",
        "this spring",
        {"expects_contact": "yes"},
    ),
    (
        "Chloe Adams",
        "chloe@example.net",
        "Loft conversion",
        "next year",
        {"advocate_introduces": "yes"},
    ),
    ("Sam Patel", "sam.patel@example.net", "Bathroom refit", "soon", {"expects_contact": "yes"}),
]


def address(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.com"


@dataclass
class Seeded:
    advocate_code: str
    referrals: list[str]  # public ids, in FRIENDS order


async def _answer(
    client: httpx.AsyncClient, name: str, email: str, score: int, comment: str | None, day: str
) -> None:
    bought = date.fromisoformat(day) - timedelta(days=40)  # history: too old to survey now
    event = {
        "id": f"purchase-{email}-{day}",
        "type": "purchase.completed",
        "occurred_at": f"{bought}T10:00:00Z",
        "customer": {"email": email, "name": name},
    }
    answer = await client.post("/v1/events", json=event, headers=AUTH)
    assert answer.status_code == 202, answer.text
    body = {
        "customer": {"email": email},
        "survey": "post_purchase",
        "score": score,
        "comment": comment,
        "answered_at": f"{day}T15:30:00Z",
    }
    answer = await client.post("/v1/responses", json=body, headers=AUTH)
    assert answer.status_code == 202, answer.text


async def seed(services: Services, client: httpx.AsyncClient) -> Seeded:
    """Everything through the admin API and the public pages, except the advocate's code, which
    an ask would have carried (made here directly rather than waiting for an ask)."""
    for day, name, score, comment in ANSWERS:
        await _answer(client, name, address(name), score, comment, day)
    for complaint in await services.store.open_complaint_list(100):  # the owner dealt with these
        await services.store.resolve_complaints(
            customer_id=None,
            complaint_id=complaint.id,
            note="called, put right",
            now=services.clock.now(),
        )
    name, email, score, comment = DETRACTOR
    await _answer(client, name, email, score, comment, "2026-03-01")
    for email in (address("Archie Ross"), DETRACTOR[1]):  # moments that will not lead to asks
        event = {
            "id": f"project-{email}",
            "type": "project.completed",
            "occurred_at": "2026-03-02T08:00:00Z",
            "customer": {"email": email},
        }
        answer = await client.post("/v1/events", json=event, headers=AUTH)
        assert answer.status_code == 202, answer.text
    name, email = ADVOCATE
    await _answer(client, name, email, 10, "Could not be happier.", "2026-02-20")
    customer = await services.store.customer_by_email(email)
    assert customer is not None
    advocate = await services.store.ensure_advocate(customer.id, services.clock.now())
    ids = []
    for friend, friend_email, need, timing, extra in FRIENDS:
        form = {
            "friend_name": friend,
            "friend_email": friend_email,
            "need": need,
            "timing": timing,
            **extra,
        }
        answer = await client.post(f"/r/{advocate.code}/introduce", data=form)
        assert answer.status_code == 200, answer.text
    found = await services.store.referral_pipeline(10)
    by_friend = {r.friend_email: r.public_id for r in found[1]}
    ids = [by_friend[f[1]] for f in FRIENDS]
    return Seeded(advocate.code, ids)


async def crowd(services: Services, count: int, advocate_name: str = "George Ward") -> list[str]:
    """`count` more new referrals from one advocate, straight into the store (a busy season: the
    pipeline page must still fit), already told to the owner; their public ids."""
    store = services.store
    customer = await store.customer_by_email(address(advocate_name))
    assert customer is not None
    advocate = await store.ensure_advocate(customer.id, services.clock.now())
    made = []
    for n in range(count):
        intro = Introduction(
            f"Friend {n:02d}", f"friend{n:02d}@example.net", None, "A new kitchen", "soon",
            "neighbour", True, False,
        )  # fmt: skip
        new = NewReferral(advocate.id, intro, "B", "form", None, None)
        referral = await store.add_referral(new, services.clock.now())
        await store.referral_notified(referral.id)
        made.append(referral.public_id)
    return made


def field(html: str, name: str) -> str:
    """The value of a hidden input in a page."""
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, f"no {name} field in the page"
    return found.group(1)
