"""Offer tests: which offer an advocate is promised, and which offer works best.

`terms_for` gives an advocate their offer: the one promised before, or a new pick among the
offers still open (daemon.engine.offers.pick), recorded with its terms so the promise is kept
whatever the owner changes later. The ask, the introduce-a-friend form and the reward on a win
all read it from here.

`report` shapes the store's figures per offer (see OffersSQL.offer_facts) into the offers
report: per offer the advocates asked, asks sent, referrals and their grades, wins and value
won, the referral rate (advocates who referred / advocates asked) with its 95% Wilson interval,
and for each offer after the first (the control) the difference in rate with Newcombe's
interval and the pooled two-proportion z-test (daemon.engine.proportions).

JSON (`vouch report offers --format json`, `GET /v1/reports/offers`)::

    {
      "control": "voucher50",
      "confidence": 0.95,
      "rate": "advocates who referred / advocates asked",
      "rate_interval": "Wilson score",
      "difference_interval": "Newcombe hybrid score (method 10)",
      "test": "two-proportion z-test, pooled, two-sided",
      "offers": [OFFER, ...]               # as configured, control first; then offers no
    }                                      # longer configured that advocates still hold
    OFFER = {
      "id", "text", "reward", "retired": bool, "configured": bool,
      "advocates_asked": 200, "asks_sent": 214, "advocates_referred": 30, "referrals": 41,
      "by_grade": {"A": 9, "B": 17, "C": 15}, "won": 6, "value_won": 18200.0,
      "friend_redemptions": 4,             # purchases with the friend offer's code
      "referral_rate": {"rate": 0.15, "low": 0.1071, "high": 0.2061},   # null: nobody asked
      "versus_control": null | {           # null for the control, or with no data on a side
        "difference": 0.075, "low": -0.0017, "high": 0.151,   # rate − the control's rate
        "z": 1.922, "p_value": 0.0547,
        "significant": false,              # p < 0.05 and enough data for the test
        "verdict": "not significant (p = 0.055)"
      }
    }
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from daemon.config import Referrals
from daemon.engine import findings
from daemon.engine.offers import STANDARD, Terms, pick
from daemon.engine.proportions import MIN_EXPECTED, Z95, compare, wilson
from daemon.money import Money
from daemon.run.services import Services
from daemon.store.offers import Offers
from daemon.store.rows import Advocate


def configured(settings: Referrals) -> list[Terms]:
    """The offers in config order (the first is the control); without [[referrals.offers]],
    one offer made of [referrals.incentive] and reward.description."""
    if not settings.offers:
        incentive = settings.incentive
        return [
            Terms(STANDARD, incentive.text, settings.reward.description, tuple(incentive.choices))
        ]
    return [
        Terms(o.id, o.text, o.reward or settings.reward.description, tuple(o.choices), o.retired)
        for o in settings.offers
    ]


async def terms_for(services: Services, advocate: Advocate) -> Terms:
    """The advocate's offer: as promised before, or picked now and recorded."""
    store: Offers = services.store
    promised = await store.offer_terms(advocate.id)
    if promised is not None:
        return promised
    secret = next(iter(services.config.secrets.signing_keys), "")
    chosen = pick(secret, advocate.code, configured(services.config.settings.referrals))
    return await store.assign_offer(advocate.id, chosen, services.clock.now())


# the report -------------------------------------------------------------------------------------


def report(
    offers: Sequence[Terms], facts: Sequence[tuple[Any, ...]], currency: str
) -> dict[str, Any]:
    """offers: as configured; facts: OffersSQL.offer_facts rows; values in `currency` (the
    business's ISO 4217 code, said in the data)."""
    by_id = {str(row[0]): row for row in facts}
    rows = [(offer, True) for offer in offers]
    known = {offer.id for offer in offers}
    rows += [
        (Terms(offer_id, row[10], str(row[11]), retired=True), False)
        for offer_id, row in sorted(by_id.items())
        if offer_id not in known
    ]
    control = offers[0].id if offers else None
    found = [_offer(offer, in_config, by_id.get(offer.id)) for offer, in_config in rows]
    base = found[0] if found else None
    for entry in found[1:]:
        entry["versus_control"] = _versus(base, entry) if base else None
    return {
        "currency": currency,
        "control": control,
        "confidence": 0.95,
        "rate": "advocates who referred / advocates asked",
        "rate_interval": "Wilson score",
        "difference_interval": "Newcombe hybrid score (method 10)",
        "test": "two-proportion z-test, pooled, two-sided",
        "offers": found,
    }


def _offer(offer: Terms, in_config: bool, row: tuple[Any, ...] | None) -> dict[str, Any]:
    counts = [int(v) for v in row[1:9]] if row else [0] * 8
    asked, asks, referred, referrals, a, b, c, won = counts
    rate = None
    if asked:
        interval = wilson(referred, asked, Z95)
        rate = {
            "rate": round(interval.estimate, 4),
            "low": round(interval.low, 4),
            "high": round(interval.high, 4),
        }
    return {
        "id": offer.id,
        "text": offer.text,
        "reward": offer.reward,
        "retired": offer.retired,
        "configured": in_config,
        "advocates_asked": asked,
        "asks_sent": asks,
        "advocates_referred": referred,
        "referrals": referrals,
        "by_grade": {"A": a, "B": b, "C": c},
        "won": won,
        "value_won": round(float(row[9]) if row else 0.0, 2),
        # purchases that carried the friend offer's code of an advocate holding this offer
        "friend_redemptions": int(row[12]) if row else 0,
        "referral_rate": rate,
        "versus_control": None,
    }


def _versus(control: dict[str, Any], offer: dict[str, Any]) -> dict[str, Any] | None:
    n1, n2 = control["advocates_asked"], offer["advocates_asked"]
    if not n1 or not n2:
        return None
    x1, x2 = control["advocates_referred"], offer["advocates_referred"]
    compared = compare(x1, n1, x2, n2)
    p = compared.p_value
    if not compared.enough_data:
        verdict = (
            f"too few to tell (the test needs {MIN_EXPECTED} referrers and {MIN_EXPECTED} "
            "others expected on each side)"
        )
    elif compared.significant:
        side = "higher" if compared.difference.estimate > 0 else "lower"
        verdict = f"significant: {side} than the control (p = {p:.3g})"
    else:
        verdict = f"not significant (p = {p:.3g})"
    return {
        "difference": round(compared.difference.estimate, 4),
        "low": round(compared.difference.low, 4),
        "high": round(compared.difference.high, 4),
        "z": round(compared.z, 3),
        "p_value": round(p, 4),
        "significant": compared.significant,
        "verdict": verdict,
    }


def table(data: dict[str, Any], money: Money) -> str:
    """The offers report for a terminal, amounts written by `money`."""
    header = (
        f"{'offer':<16} {'asked':>6} {'asks':>5} {'referred':>8} {'refs':>5} {'A/B/C':>9} "
        f"{'won':>4} {'value':>12} {'codes':>5} {'rate':>6}  {'95% interval':<13}"
    )
    header = header.rstrip()
    lines = [f"Offer tests (control: {data['control']})", ""]
    lines += [*findings.said(findings.offers(data)), ""]
    lines += [header, "-" * len(header)]
    for o in data["offers"]:
        name = o["id"] + (" (retired)" if o["retired"] else "")
        if not o["configured"]:
            name = o["id"] + " (removed)"
        grades = "/".join(str(o["by_grade"][g]) for g in "ABC")
        rate, interval = "—", ""
        if o["referral_rate"]:
            r = o["referral_rate"]
            rate, interval = _pct(r["rate"]), f"{_pct(r['low'])} to {_pct(r['high'])}"
        lines.append(
            f"{name[:16]:<16} {o['advocates_asked']:>6} {o['asks_sent']:>5} "
            f"{o['advocates_referred']:>8} {o['referrals']:>5} {grades:>9} {o['won']:>4} "
            f"{money(o['value_won']):>12} {o['friend_redemptions']:>5} {rate:>6}  {interval}"
        )
    lines += ["", "Against the control (rate difference, 95% interval; p-value):"]
    for o in data["offers"][1:]:
        v = o["versus_control"]
        if v is None:
            lines.append(f"  {o['id']}: no data yet on one side")
            continue
        lines.append(
            f"  {o['id']}: {_points(v['difference'])} ({_points(v['low'])} to "
            f"{_points(v['high'])}), z = {v['z']:.2f}: {v['verdict']}"
        )
    if len(data["offers"]) < 2:
        lines.append("  (only one offer: add [[referrals.offers]] to compare)")
    lines += [
        "",
        f"rate = {data['rate']}; interval: {data['rate_interval']}; difference: "
        f"{data['difference_interval']}; {data['test']}.",
        "Flagged referrals (self-referrals, existing customers) do not count; codes: purchases "
        "made with the friend offer's code.",
    ]
    return "\n".join(lines) + "\n"


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


def _points(value: float) -> str:
    return f"{100 * value:+.1f} pts"
