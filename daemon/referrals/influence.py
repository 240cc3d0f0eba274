"""Influence, applied: the owner's mark, each customer's score, and the advocates report.

The score is pure (daemon/engine/influence.py: mark + tag weights + history, with its
reasons); this module feeds it the store's facts and the `[referrals.influence] tags` weights.
The daily ask cap (daemon/referrals/ask_cap.py) ranks by it; `vouch report advocates` and
`GET /v1/reports/advocates` list it.

JSON::

    {
      "weights": {"referral": 1, "grade_a": 2, "testimonial": 1, "win": 3,
                  "tags": {"board-member": 3}},
      "advocates": [                       # most influential first (ties: by email)
        {"rank": 1, "email": "ann@example.com", "name": "Ann Example", "influence": 11.0,
         "mark": 5, "tags": ["board-member"], "referrals": 1, "grade_a": 1,
         "testimonials": 0, "wins": 0,
         "why": ["mark 5 (owner)", "tag board-member +3", "1 referral +1",
                 "1 grade A introduction +2"]}
      ]
    }
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from daemon.engine import findings
from daemon.engine import influence as rules
from daemon.engine.influence import Facts, Influence
from daemon.run.services import Services
from daemon.store.customers import Customers
from daemon.store.influence import InfluenceMarks


class CustomersAndInfluenceMarks(Customers, InfluenceMarks, Protocol):
    """The store as `set_mark` uses it."""


def _weights(services: Services) -> dict[str, float]:
    return dict(services.config.settings.referrals.influence.tags)


async def scores(services: Services, customer_ids: Iterable[int]) -> dict[int, Influence]:
    """Influence of each customer; an unknown id scores 0 with no reasons."""
    store: InfluenceMarks = services.store
    ids = sorted(set(customer_ids))
    facts = await store.influence_facts(ids)
    weights = _weights(services)
    return {
        i: rules.influence(facts.get(i) or Facts(i, None, None, (), 0, 0, 0, 0), weights)
        for i in ids
    }


async def set_mark(services: Services, email: str, mark: int | None, source: str) -> Influence:
    """The owner's mark on a known customer (LookupError if unknown); their influence after."""
    store: CustomersAndInfluenceMarks = services.store
    customer = await store.customer_by_email(email)
    if customer is None:
        raise LookupError(f"no customer {email!r}")
    await store.set_influence_mark(customer.id, mark, source=source, now=services.clock.now())
    return (await scores(services, [customer.id]))[customer.id]


async def report(services: Services) -> dict[str, Any]:
    store: InfluenceMarks = services.store
    weights = _weights(services)
    found: list[dict[str, Any]] = []
    for facts, email, name in await store.influential(sorted(weights)):
        scored = rules.influence(facts, weights)
        found.append(
            {
                "email": email,
                "name": name,
                "influence": scored.score,
                "mark": facts.mark,
                "tags": sorted(t for t in set(facts.tags) if weights.get(t)),
                "referrals": facts.referrals,
                "grade_a": facts.grade_a,
                "testimonials": facts.testimonials,
                "wins": facts.wins,
                "why": list(scored.reasons),
            }
        )
    found.sort(key=lambda a: (-a["influence"], a["email"]))
    return {
        "weights": {
            "referral": rules.REFERRAL,
            "grade_a": rules.GRADE_A,
            "testimonial": rules.TESTIMONIAL,
            "win": rules.WIN,
            "tags": weights,
        },
        "advocates": [{"rank": n, **a} for n, a in enumerate(found, start=1)],
    }


def table(data: dict[str, Any]) -> str:
    """The advocates report for a terminal: rank, influence, who, and why."""
    w = data["weights"]
    tags = ", ".join(f"{t} +{v:g}" for t, v in sorted(w["tags"].items())) or "none set"
    lines = [
        "Advocates by influence",
        "",
        *findings.said(findings.advocates(data)),
        "",
        f"influence = mark (0-10) + tag weights ({tags}) + {w['referral']:g} a referral "
        f"+ {w['grade_a']:g} a grade A + {w['testimonial']:g} a testimonial + {w['win']:g} a win",
        "",
        f"{'#':>3} {'influence':>9}  {'customer':<32} why",
    ]
    for a in data["advocates"]:
        who = a["name"] or a["email"]
        if a["name"]:
            who = f"{a['name']} <{a['email']}>"
        lines.append(
            f"{a['rank']:>3} {a['influence']:>9g}  {who[:32]:<32} {'; '.join(a['why']) or '—'}"
        )
    if not data["advocates"]:
        lines.append("  (nobody yet: no marks, weighted tags, referrals or testimonials)")
    return "\n".join(lines) + "\n"
