"""The partner balance: per partner, the clients received and given, won both ways, and the
balance (received − given: above 0, the partner has sent more clients than it has been sent).

Pure: shapes the store's rows into what `vouch report partners` prints and
`GET /v1/reports/partners` returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from daemon.engine import findings
from daemon.money import Money

COLUMNS = (
    "id",
    "partner",
    "contact",
    "email",
    "received",
    "received_won",
    "value_won",
    "given",
    "given_won",
    "balance",
)


def report(rows: Sequence[tuple[Any, ...]], currency: str) -> dict[str, Any]:
    """rows: (public id, name, contact, email, received, received won, value won, given,
    given won), as the store's partner_facts gives them; values in `currency` (the business's
    ISO 4217 code, said in the data)."""
    partners = [
        {
            "id": r[0],
            "partner": r[1],
            "contact": r[2],
            "email": r[3],
            "received": int(r[4]),
            "received_won": int(r[5]),
            "value_won": round(float(r[6]), 2),
            "given": int(r[7]),
            "given_won": int(r[8]),
            "balance": int(r[4]) - int(r[7]),
        }
        for r in rows
    ]
    totals = {
        key: sum(p[key] for p in partners)
        for key in ("received", "received_won", "given", "given_won", "balance")
    }
    totals["value_won"] = round(sum(p["value_won"] for p in partners), 2)
    return {"currency": currency, "partners": partners, "totals": totals}


def table(data: dict[str, Any], money: Money) -> str:
    """The report for a terminal, amounts written by `money`."""
    header = (
        f"{'partner':<28} {'received':>8} {'won':>4} {'value':>12} {'given':>6} {'won':>4} "
        f"{'balance':>8}"
    )
    lines = ["Partners", "", *findings.said(findings.partners(data, money)), ""]
    lines += [header, "-" * len(header)]
    for p in data["partners"]:
        lines.append(
            f"{p['partner'][:28]:<28} {p['received']:>8} {p['received_won']:>4} "
            f"{money(p['value_won']):>12} {p['given']:>6} {p['given_won']:>4} {p['balance']:>+8}"
        )
    t = data["totals"]
    lines += [
        "",
        f"Received {t['received']} ({t['received_won']} won), gave {t['given']} "
        f"({t['given_won']} won).",
        "Balance: received minus given; above 0, the partner has sent you more than you sent it.",
    ]
    return "\n".join(lines) + "\n"


def csv_rows(data: dict[str, Any]) -> list[list[Any]]:
    """The report as CSV rows, the header first (its amounts' column names the currency)."""
    header = [f"value_won ({data['currency']})" if c == "value_won" else c for c in COLUMNS]
    return [header] + [[p[c] for c in COLUMNS] for p in data["partners"]]
