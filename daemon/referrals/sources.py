"""Who sends business: per advocate, the champions, and what kind of customer refers.

Pure: shapes the store's rows into the report `vouch report referrals` prints and
`GET /v1/referrals` returns.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from daemon.engine import findings
from daemon.money import Money


@dataclass(frozen=True)
class Source:
    advocate: str
    email: str
    referrals: int
    by_grade: dict[str, int]
    contacted: int
    won: int
    attributed: int  # of the won: credited by a purchase that matched (referrals/attribution.py)
    value_won: float
    conversion: float | None  # won / referrals (flagged ones excluded from both)
    days_to_close: float | None  # median, won referrals

    def as_json(self) -> dict[str, Any]:
        return {
            "advocate": self.advocate,
            "email": self.email,
            "referrals": self.referrals,
            "by_grade": self.by_grade,
            "contacted": self.contacted,
            "won": self.won,
            "won_by_purchase": self.attributed,
            "value_won": round(self.value_won, 2),
            "conversion": None if self.conversion is None else round(self.conversion, 3),
            "median_days_to_close": None
            if self.days_to_close is None
            else round(self.days_to_close, 1),
        }


def sources(rows: Sequence[tuple[Any, ...]]) -> list[Source]:
    """rows: (advocate id, name, email, grade, status, value, flag, created, contacted, closed,
    attributed). A win the owner marked and one a matched purchase made count alike."""
    grouped: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        grouped.setdefault(int(row[0]), []).append(row)
    found = []
    for items in grouped.values():
        counted = [r for r in items if r[6] is None]  # flagged (self-referrals) do not count
        won = [r for r in counted if r[4] == "won"]
        days = [(r[9] - r[7]).total_seconds() / 86400 for r in won if r[9]]
        found.append(
            Source(
                advocate=items[0][1] or items[0][2],
                email=items[0][2],
                referrals=len(counted),
                by_grade={g: sum(1 for r in counted if r[3] == g) for g in ("A", "B", "C")},
                contacted=sum(1 for r in counted if r[8] is not None),
                won=len(won),
                attributed=sum(1 for r in won if r[10]),
                value_won=float(sum(r[5] or 0 for r in won)),
                conversion=len(won) / len(counted) if counted else None,
                days_to_close=statistics.median(days) if days else None,
            )
        )
    return sorted(found, key=lambda s: (-s.value_won, -s.won, -s.referrals, s.email))


def report(
    rows: Sequence[tuple[Any, ...]],
    tags: Sequence[tuple[str, int, int]],
    currency: str,
    top: int = 5,
) -> dict[str, Any]:
    """The whole sources report as JSON-ready data, values in `currency` (the business's ISO
    4217 code, said in the data); champions are the top sources by value won, then wins, then
    referrals made."""
    every = sources(rows)
    totals = next(((a, o) for tag, a, o in tags if tag == ""), (0, 0))
    advocates, others = totals
    by_tag = [
        {
            "tag": tag,
            "advocates": a,
            "others": o,
            "share_of_advocates": round(a / advocates, 3) if advocates else None,
            "share_of_others": round(o / others, 3) if others else None,
        }
        for tag, a, o in tags
        if tag
    ]
    by_tag.sort(key=_lift)
    return {
        "currency": currency,
        "advocates": [s.as_json() for s in every],
        "champions": [s.as_json() for s in every[:top] if s.referrals],
        "totals": {
            "referrals": sum(s.referrals for s in every),
            "won": sum(s.won for s in every),
            "won_by_purchase": sum(s.attributed for s in every),
            "value_won": round(sum(s.value_won for s in every), 2),
            "advocates": advocates,
            "other_customers": others,
        },
        "by_tag": by_tag,
    }


def _lift(row: dict[str, Any]) -> float:
    """How much more often advocates carry the tag than other customers (largest first)."""
    return -(float(row["share_of_advocates"] or 0) - float(row["share_of_others"] or 0))


def table(data: dict[str, Any], money: Money) -> str:
    """The report for a terminal, amounts written by `money` (the business's currency)."""
    lines = ["Referral sources", "", *findings.said(findings.sources(data, money)), ""]
    header = (
        f"{'advocate':<28} {'refs':>4} {'A/B/C':>8} {'contacted':>9} {'won':>4} "
        f"{'value':>12} {'conv':>6} {'days':>5}"
    )
    lines.append(header)
    lines.append("-" * len(header))
    for s in data["advocates"]:
        grades = "/".join(str(s["by_grade"][g]) for g in "ABC")
        conversion = "—" if s["conversion"] is None else f"{s['conversion']:.0%}"
        days = "—" if s["median_days_to_close"] is None else f"{s['median_days_to_close']:g}"
        lines.append(
            f"{s['advocate'][:28]:<28} {s['referrals']:>4} {grades:>8} {s['contacted']:>9} "
            f"{s['won']:>4} {money(s['value_won']):>12} {conversion:>6} {days:>5}"
        )
    t = data["totals"]
    lines += ["", f"{t['referrals']} referrals, {t['won']} won, {money(t['value_won'])} value won."]
    if data["champions"]:
        lines += ["", "Champions: " + ", ".join(c["advocate"] for c in data["champions"])]
    if data["by_tag"]:
        lines += ["", "Who refers (share of advocates vs other customers, by tag):"]
        for row in data["by_tag"]:
            a = "—" if row["share_of_advocates"] is None else f"{row['share_of_advocates']:.0%}"
            o = "—" if row["share_of_others"] is None else f"{row['share_of_others']:.0%}"
            lines.append(f"  {row['tag']:<24} advocates {a:>5}   others {o:>5}")
    return "\n".join(lines) + "\n"
