"""The NPS report: tallies from the store in, a table, CSV or JSON out. Pure: no I/O, no clock.

A report has groups: `overall`, one per survey, one per customer tag (a customer with several tags
counts in each). Every group has its responses, segment counts, NPS with its 95% interval
(daemon.engine.segments.Nps), score distribution, response rate and monthly trend.

The response rate is answered invitations ÷ invitations sent. A response that came without an
invitation (the webhook, a reply) counts in NPS but not in the rate; `without_invitation` says
how many there are. Months are calendar months in the business's time zone, oldest first, the
last one the month of `now`.

JSON (`vouch report --format json` and `GET /v1/reports/nps` return the same)::

    {
      "generated_at": "2026-03-02T09:00:00+00:00",   # now, in the business's time zone
      "timezone": "Europe/London",
      "confidence": 0.95,
      "months": ["2025-04", ..., "2026-03"],
      "overall": GROUP,
      "surveys": {"post_purchase": GROUP, ...},       # every configured survey, and any answered
      "tags": {"kitchen": GROUP, ...},
      "public_link": {"counted": 5, "waiting": 3, "throttled": 1, "apart": TALLY}
    }
    GROUP = TALLY + {
      "distribution": [0, 0, 1, 0, 0, 0, 2, 1, 3, 4, 5],   # responses per score, index = score
      "response_rate": {"sent": 20, "answered": 14, "rate": 0.7, "without_invitation": 2},
      "trend": [{"month": "2025-04"} + TALLY, ...]          # one per month in "months"
    }
    TALLY = {
      "responses": 16,
      "segments": {"promoter": 9, "passive": 4, "detractor": 3},
      "nps": {"score": 37.5, "margin": 21.9, "low": 12.1, "high": 55.9}   # null: no responses
    }

`public_link`: answers through surveys' public links (daemon/surveys/public.py). Those customers
confirmed are `counted` (and in the groups above); `waiting` for a customer's confirmation,
`throttled` (confirmed but surveyed lately) and `apart` (addresses that are no customer's, with
their own NPS) are never in the customers' NPS. The CSV leaves them out.

`rate` is null when nothing was sent. NPS figures are rounded to 0.1; `low`/`high` bound the
95% interval, which is not always `score ± margin` (see Nps).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from daemon.engine.segments import Nps, Segment, segment
from daemon.store.public_answers import PublicAnswers, PublicTally
from daemon.store.reports import Reports

CONFIDENCE = 0.95
NONE = "—"
FORMATS = ("table", "csv", "json")
MAX_MONTHS = 120


@dataclass(frozen=True)
class Group:
    kind: str  # overall, survey, tag
    key: str  # the survey id or the tag; "" for overall
    distribution: tuple[int, ...]  # responses per score, index = score
    nps: Nps
    sent: int
    answered: int
    without_invitation: int
    trend: tuple[Nps, ...]  # one per month of the report

    @property
    def rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.key}".strip()


@dataclass(frozen=True)
class Report:
    generated_at: datetime
    timezone: str
    months: tuple[str, ...]  # "YYYY-MM", oldest first
    groups: tuple[Group, ...]  # overall, then surveys, then tags, each by key
    public: dict[str, PublicTally] = field(default_factory=dict)  # public link answers by state

    @property
    def overall(self) -> Group:
        return self.groups[0]


def month_starts(now: datetime, timezone: str, months: int) -> list[datetime]:
    """The starts of the last `months` calendar months in `timezone` (the last one holds now),
    and the start of the month after: months + 1 aware datetimes."""
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"a report's trend covers 1 to {MAX_MONTHS} months, not {months}")
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    first = local.year * 12 + local.month - 1 - (months - 1)
    return [datetime(m // 12, m % 12 + 1, 1, tzinfo=zone) for m in range(first, first + months + 1)]


class ReportStore(Reports, PublicAnswers, Protocol):
    pass


async def from_store(
    store: ReportStore, surveys: Iterable[str], timezone: str, now: datetime, months: int
) -> Report:
    """The report on what the store holds now: the CLI, the API and the dashboard show this."""
    starts = month_starts(now, timezone, months)
    built = build(
        now=now,
        timezone=timezone,
        starts=starts,
        surveys=surveys,
        scores=await store.score_tallies(),
        sent=await store.sent_tallies(),
        monthly=await store.monthly_tallies(starts),
    )
    return replace(built, public=await store.public_tallies())


def build(
    *,
    now: datetime,
    timezone: str,
    starts: Sequence[datetime],
    surveys: Iterable[str],
    scores: Iterable[tuple[str, str, int, int, int]],
    sent: Iterable[tuple[str, str, int, int]],
    monthly: Iterable[tuple[str, str, int, int, int]],
) -> Report:
    """Shape the store's tallies (see daemon.store.reports) into a report."""
    months = len(starts) - 1
    counts: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0] * 11)
    without: defaultdict[tuple[str, str], int] = defaultdict(int)
    rates: defaultdict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    trend: defaultdict[tuple[str, str], list[list[int]]] = defaultdict(
        lambda: [[0] * 11 for _ in range(months)]
    )
    for group in [("overall", ""), *(("survey", survey) for survey in surveys)]:
        counts[group] = [0] * 11  # shown even before any response
    for kind, key, score, n, uninvited in scores:
        for group in _with_overall(kind, key):
            counts[group][score] += n
            without[group] += uninvited
    for kind, key, n_sent, n_answered in sent:
        for group in _with_overall(kind, key):
            rates[group][0] += n_sent
            rates[group][1] += n_answered
    for kind, key, month, score, n in monthly:
        for group in _with_overall(kind, key):
            trend[group][month][score] += n
    order = {"overall": 0, "survey": 1, "tag": 2}
    keys = sorted({*counts, *rates, *trend}, key=lambda g: (order[g[0]], g[1]))
    groups = tuple(
        Group(
            kind=kind,
            key=key,
            distribution=tuple(counts[kind, key]),
            nps=_nps(counts[kind, key]),
            sent=rates[kind, key][0],
            answered=rates[kind, key][1],
            without_invitation=without[kind, key],
            trend=tuple(_nps(month) for month in trend[kind, key]),
        )
        for kind, key in keys
    )
    zone = ZoneInfo(timezone)
    return Report(
        generated_at=now.astimezone(zone),
        timezone=timezone,
        months=tuple(start.astimezone(zone).strftime("%Y-%m") for start in starts[:-1]),
        groups=groups,
    )


def _with_overall(kind: str, key: str) -> list[tuple[str, str]]:
    # Each response has exactly one survey, so the surveys add up to the overall figures.
    return [(kind, key), ("overall", "")] if kind == "survey" else [(kind, key)]


def _nps(distribution: Sequence[int]) -> Nps:
    by_segment = dict.fromkeys(Segment, 0)
    for score, n in enumerate(distribution):
        by_segment[segment(score)] += n
    return Nps.from_counts(
        by_segment[Segment.PROMOTER], by_segment[Segment.PASSIVE], by_segment[Segment.DETRACTOR]
    )


# JSON


def to_json(report: Report) -> dict[str, Any]:
    """The report as the nested structure in this module's docstring."""
    return {
        "generated_at": report.generated_at.isoformat(),
        "timezone": report.timezone,
        "confidence": CONFIDENCE,
        "months": list(report.months),
        "overall": _group_json(report.overall, report.months),
        "surveys": {
            g.key: _group_json(g, report.months) for g in report.groups if g.kind == "survey"
        },
        "tags": {g.key: _group_json(g, report.months) for g in report.groups if g.kind == "tag"},
        "public_link": _public_json(report.public),
    }


def _public_json(public: dict[str, PublicTally]) -> dict[str, Any]:
    apart = public.get("apart", PublicTally(0, 0, 0))
    return {
        "counted": public.get("counted", PublicTally(0, 0, 0)).answers,
        "waiting": public.get("pending", PublicTally(0, 0, 0)).answers,
        "throttled": public.get("throttled", PublicTally(0, 0, 0)).answers,
        "apart": _tally_json(_public_nps(apart)),
    }


def _public_nps(tally: PublicTally) -> Nps:
    passives = tally.answers - tally.promoters - tally.detractors
    return _nps([tally.detractors, 0, 0, 0, 0, 0, 0, passives, 0, 0, tally.promoters])


def _group_json(group: Group, months: Sequence[str]) -> dict[str, Any]:
    return _tally_json(group.nps) | {
        "distribution": list(group.distribution),
        "response_rate": {
            "sent": group.sent,
            "answered": group.answered,
            "rate": None if group.rate is None else round(group.rate, 3),
            "without_invitation": group.without_invitation,
        },
        "trend": [
            {"month": month} | _tally_json(nps)
            for month, nps in zip(months, group.trend, strict=True)
        ],
    }


def _tally_json(nps: Nps) -> dict[str, Any]:
    figures = None
    if nps.score is not None:
        figures = {
            "score": _tenth(nps.score),
            "margin": _tenth(nps.margin),
            "low": _tenth(nps.low),
            "high": _tenth(nps.high),
        }
    return {
        "responses": nps.responses,
        "segments": {
            "promoter": nps.promoters,
            "passive": nps.passives,
            "detractor": nps.detractors,
        },
        "nps": figures,
    }


def _tenth(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


# CSV

CSV_HEADER = (
    "kind,key,month,responses,promoters,passives,detractors,nps,margin,low,high,"
    "sent,answered,rate,without_invitation," + ",".join(f"score_{s}" for s in range(11))
).split(",")


def to_csv(report: Report) -> str:
    """One row per group for all time (month empty), then one per group and month (rate and
    distribution are all-time figures: empty in the month rows)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for g in report.groups:
        rate = "" if g.rate is None else round(g.rate, 3)
        all_time = [g.sent, g.answered, rate, g.without_invitation, *g.distribution]
        writer.writerow([g.kind, g.key, "", *_csv_tally(g.nps), *all_time])
    for g in report.groups:
        for month, nps in zip(report.months, g.trend, strict=True):
            row = [g.kind, g.key, month, *_csv_tally(nps)]
            writer.writerow(row + [""] * (len(CSV_HEADER) - len(row)))
    return out.getvalue()


def _csv_tally(nps: Nps) -> list[object]:
    figures = [nps.score, nps.margin, nps.low, nps.high]
    return [
        nps.responses,
        nps.promoters,
        nps.passives,
        nps.detractors,
        *("" if f is None else round(f, 1) for f in figures),
    ]


# table

SUMMARY_HEADER = ["group", "n", "NPS", "95% interval", "promoters", "passives", "detractors"]
SUMMARY_HEADER += ["sent", "answered", "rate"]


def to_table(report: Report) -> str:
    """Three aligned tables a terminal shows at a glance: summary, distribution, trend."""
    overall = report.overall
    summary = _table(
        SUMMARY_HEADER,
        [
            [
                g.label,
                str(g.nps.responses),
                _nps_cell(g.nps),
                _interval(g.nps),
                *(str(n) for n in (g.nps.promoters, g.nps.passives, g.nps.detractors)),
                str(g.sent),
                str(g.answered),
                NONE if g.rate is None else f"{g.rate:.0%}",
            ]
            for g in report.groups
        ],
    )
    distribution = _table(
        ["score", *(str(s) for s in range(11))],
        [[g.label, *(str(n) for n in g.distribution)] for g in report.groups],
    )
    trend = _table(
        ["month", *(g.label for g in report.groups)],
        [
            [month, *(_trend_cell(g.trend[i]) for g in report.groups)]
            for i, month in enumerate(report.months)
        ],
    )
    return "\n".join(
        [
            f"NPS report, {report.generated_at:%Y-%m-%d %H:%M} {report.timezone}",
            "NPS = % promoters (9-10) - % detractors (0-6), from -100 to +100; "
            "± is the 95% margin of error.",
            "",
            summary,
            "",
            "rate = answered invitations / invitations sent.",
            *_without(overall.without_invitation),
            *_public_lines(report.public),
            "",
            "Score distribution (responses per score)",
            distribution,
            "",
            f"Monthly trend ({report.timezone})",
            trend,
            "",
        ]
    )


def _public_lines(public: dict[str, PublicTally]) -> list[str]:
    """What came through public links and is not in the figures above (nothing: no lines)."""
    if not public:
        return []
    apart = public.get("apart", PublicTally(0, 0, 0))
    waiting = public.get("pending", PublicTally(0, 0, 0)).answers
    throttled = public.get("throttled", PublicTally(0, 0, 0)).answers
    counted = public.get("counted", PublicTally(0, 0, 0)).answers
    return [
        f"Public links: {counted} answers confirmed by customers (counted above); kept apart: "
        f"{apart.answers} from addresses that are no customer's (NPS "
        f"{_nps_cell(_public_nps(apart))}), {throttled} confirmed inside the survey's throttle, "
        f"{waiting} waiting for the customer to confirm."
    ]


def _whole(value: float) -> int:
    return math.floor(value + 0.5)  # half up, whatever the sign


def _signed(value: float) -> str:
    whole = _whole(value)
    return f"{whole:+d}" if whole else "0"


def _without(n: int) -> list[str]:
    if not n:
        return []
    return [
        f"{n} response{'s' if n != 1 else ''} came without an invitation (webhook, reply): "
        "counted in NPS, not in the rate."
    ]


def _nps_cell(nps: Nps) -> str:
    if nps.score is None or nps.margin is None:
        return NONE
    return f"{_signed(nps.score)} ±{_whole(nps.margin)}"


def _interval(nps: Nps) -> str:
    if nps.low is None or nps.high is None:
        return NONE
    return f"{_signed(nps.low)} to {_signed(nps.high)}"


def _trend_cell(nps: Nps) -> str:
    return NONE if nps.score is None else f"{_nps_cell(nps)} n={nps.responses}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell: the first left-aligned, the rest right-aligned."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render(report: Report, fmt: str) -> str:
    """The report in one of FORMATS."""
    if fmt == "json":
        return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return to_csv(report)
    if fmt == "table":
        return to_table(report)
    raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")
