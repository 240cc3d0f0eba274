"""The reports in the owner's words: a sentence per finding, computed from the report's own
figures by plain rules, so the words never say more than the numbers do.

Pure: each function takes the JSON-ready data of one report (daemon/referrals/sources.py,
offers.py, influence.py, daemon/partners/report.py) and `money`, the business's formatter of
amounts, and returns the sentences, most important first. The offer test says "proven" only
when the z-test is significant with enough data for it (daemon/engine/proportions.py); else it
says how many more asks would tell, from the sample size the observed rates need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from math import ceil, log10
from typing import Any

from daemon.engine.proportions import group_size

Money = Callable[[float], str]
CHAMPIONS_NAMED = 3  # the advocates a report names, one sentence each
PARTNERS_NAMED = 3
ADVOCATES_NAMED = 3


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def _pct(rate: float) -> str:
    return f"{100 * rate:.0f}%"


def said(sentences: Sequence[str]) -> list[str]:
    """The sentences as a terminal report's lines: one bullet each."""
    return [f"- {s}" for s in sentences]


def about(n: int) -> int:
    """A count as one says it with "about": up to 100 to the next ten, above that to two
    significant figures (rounded up: never fewer than needed)."""
    if n <= 10:
        return n
    step = 10 if n <= 100 else 10 ** (int(log10(n)) - 1)
    return int(ceil(n / step) * step)


# referral sources ---------------------------------------------------------------------------


def sources(data: dict[str, Any], money: Money) -> list[str]:
    """The referral sources report: the whole, who brought the won work, each champion."""
    t = data["totals"]
    if not t["referrals"]:
        return ["No referrals yet."]
    so_far = f"{_plural(t['referrals'], 'referral')} so far"
    if not t["won"]:
        return [f"{so_far}, none won yet.", *_named(data, money)]
    said = [f"{so_far}: {t['won']} won, worth {money(t['value_won'])}."]
    matched = t["won_by_purchase"]
    if matched:
        wins = f"{matched} of the {t['won']} wins" if matched < t["won"] else "Every win"
        said.append(f"{wins} came by itself: a purchase matched the referral.")
    winners = [a for a in data["advocates"] if a["won"]]
    if winners:
        top = winners[: min(2, len(winners))]
        share = sum(a["won"] for a in top)
        names = " and ".join(a["advocate"] for a in top)
        if len(winners) > len(top) and share * 2 > t["won"]:
            said.append(f"Most of your won work came from {names} ({share} of {t['won']}).")
        elif len(winners) == 1:
            said.append(f"All your won work came from {names} ({t['won']}).")
    return said + _named(data, money)


def _named(data: dict[str, Any], money: Money) -> list[str]:
    """Each champion in a sentence, then the tag advocates carry most beside other customers."""
    said = []
    for a in data["champions"][:CHAMPIONS_NAMED]:
        sent = f"{a['advocate']} sent {_plural(a['referrals'], 'introduction')}"
        if a["won"]:
            said.append(f"{sent}, {a['won']} won ({money(a['value_won'])}).")
        else:
            said.append(f"{sent}, none won yet.")
    lifted = [r for r in data["by_tag"] if _lift(r) > 0]
    if lifted:
        r = lifted[0]
        said.append(
            f"Your advocates are more often tagged “{r['tag']}” than your other customers "
            f"({_pct(r['share_of_advocates'])} against {_pct(r['share_of_others'] or 0)})."
        )
    return said


def _lift(row: dict[str, Any]) -> float:
    if row["share_of_advocates"] is None:
        return 0.0
    return float(row["share_of_advocates"]) - float(row["share_of_others"] or 0)


# the offer test -----------------------------------------------------------------------------


def offers(data: dict[str, Any]) -> list[str]:
    """The offer test: per offer after the control, better, worse or the same, and whether it
    is proven; when it is not, about how many more asks (advocates asked) would tell."""
    found = data["offers"]
    if not found:
        return []
    control = found[0]
    if len(found) < 2:
        rate = control["referral_rate"]
        if rate is None:
            return [f"One offer ({control['id']}), nobody asked yet."]
        return [
            f"One offer ({control['id']}): {_pct(rate['rate'])} of the "
            f"{_plural(control['advocates_asked'], 'advocate')} asked referred someone."
        ]
    return [_versus(control, offer) for offer in found[1:]]


def _versus(control: dict[str, Any], offer: dict[str, Any]) -> str:
    name, base = f"Offer {offer['id']}", control["id"]
    v = offer["versus_control"]
    if v is None:
        return f"{name} cannot be compared with {base} yet: one of them has nobody asked."
    p1, p2 = control["referral_rate"]["rate"], offer["referral_rate"]["rate"]
    rates = f"{_pct(p2)} of advocates asked referred, against {_pct(p1)}"
    if v["significant"]:
        word = "better" if v["difference"] > 0 else "worse"
        return f"{name} works {word} than {base}, and it is proven ({rates})."
    need = group_size(p1, p2)
    if need is None:
        return f"{name} and {base} do the same so far ({rates}): no difference to prove yet."
    more = max(0, need - control["advocates_asked"]) + max(0, need - offer["advocates_asked"])
    word = "better" if p2 > p1 else "worse"
    tell = f"about {about(more)} more asks would tell" if more else "a few more asks would tell"
    return f"{name} looks {word} than {base} but is not proven yet: {tell} ({rates})."


# partners -----------------------------------------------------------------------------------


def partners(data: dict[str, Any], money: Money) -> list[str]:
    """The partner balance: who sends most, and who is owed clients."""
    rows = [p for p in data["partners"] if p["received"] or p["given"]]
    if not data["partners"]:
        return ["No partners yet."]
    if not rows:
        return ["No clients sent or given with your partners yet."]
    t = data["totals"]
    said = [
        f"Your partners sent you {_plural(t['received'], 'client')} ({t['received_won']} won, "
        f"{money(t['value_won'])}); you gave them {t['given']}."
    ]
    for p in sorted(rows, key=lambda p: (-p["received"], p["partner"]))[:PARTNERS_NAMED]:
        sent = f"{p['partner']} sent you {_plural(p['received'], 'client')}"
        if p["received_won"]:
            sent += f", {p['received_won']} won ({money(p['value_won'])})"
        said.append(f"{sent}, and you gave them {p['given']}{_owed(p['balance'])}.")
    return said


def _owed(balance: int) -> str:
    if balance > 0:
        return f": you owe them {_plural(balance, 'client')}"
    if balance < 0:
        return f": they owe you {_plural(-balance, 'client')}"
    return ": even"


# advocates by influence ---------------------------------------------------------------------


def advocates(data: dict[str, Any]) -> list[str]:
    """The most influential advocates, with why."""
    ranked: Sequence[dict[str, Any]] = data["advocates"]
    if not ranked:
        return ["Nobody has any influence yet: no marks, weighted tags, referrals or testimonials."]
    said = [f"{_plural(len(ranked), 'customer')} with some influence."]
    for a in ranked[:ADVOCATES_NAMED]:
        why = "; ".join(a["why"])
        said.append(
            f"{a['name'] or a['email']} scores {a['influence']:g}" + (f" ({why})." if why else ".")
        )
    return said


# the funnel ---------------------------------------------------------------------------------


def funnel(data: dict[str, Any], money: Money) -> list[str]:
    """The funnel's channels, most introductions first: what each brought."""
    names = {c["id"]: c["name"] for c in data["channels"]}
    totals = data["totals"]
    used = [c for c in names if any(totals[c].values())]
    if not used:
        return ["Nothing through the funnel yet: no asks sent, pages shown or links opened."]
    said = []
    for c in sorted(used, key=lambda c: (-totals[c]["introductions"], -totals[c]["shown"])):
        t = totals[c]
        parts = [f"{t['shown']} shown"] if t["shown"] else []
        if t["opened"]:
            parts.append(f"{_plural(t['opened'], 'link')} opened by people")
        parts.append(_plural(t["introductions"], "introduction"))
        if t["purchases"]:
            parts.append(f"{_plural(t['purchases'], 'purchase')} matched")
        if t["value_won"]:
            parts.append(f"{money(t['value_won'])} won")
        said.append(f"{names[c]}: " + ", ".join(parts) + ".")
    return said
