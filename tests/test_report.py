"""The NPS report: figures from a hand-computed data set, the three formats, the HTTP endpoint.

The business is in Europe/London and "now" is 2026-03-02 09:00 UTC, so the 12-month trend runs
2025-04 .. 2026-03. Responses near month ends fall in London's month, not UTC's:

| # | customer (tags)    | survey             | invitation | score | answered (UTC)   | month   |
|---|--------------------|--------------------|------------|-------|------------------|---------|
| 1 | ann (kitchen, vip) | post_purchase      | sent       | 10    | 2026-03-01 10:00 | 2026-03 |
| 2 | bob (kitchen)      | post_purchase      | sent       | 9     | 2026-02-10 12:00 | 2026-02 |
| 3 | cat                | post_purchase      | sent       | 3     | 2025-08-31 23:30 | 2025-09 |
| 4 | dan (vip)          | post_purchase      | sent       | -     |                  |         |
| 5 | eve                | post_purchase      | (webhook)  | 8     | 2026-02-20 12:00 | 2026-02 |
| 6 | ann                | post_purchase      | sent       | 7     | 2025-03-31 22:30 | 2025-03 |
| 7 | bob                | project_completion | sent       | 6     | 2025-03-31 23:30 | 2025-04 |
| 8 | dan                | project_completion | sent       | 10    | 2026-01-15 12:00 | 2026-01 |
| 9 | cat                | project_completion | scheduled  | -     |                  |         |
|10 | ann                | project_completion | sent       | -     |                  |         |

post_purchase: 5 responses (P 10 9, passive 8 7, D 3): NPS +20; 4 of 5 sent answered; 1 webhook.
project_completion: 2 (P 10, D 6): NPS 0; 2 of 3 sent answered.
overall: 7 (P 3, passive 2, D 2): NPS 100/7 = 14.3; 6 of 8 answered (75%).
kitchen (ann, bob): 10 7 9 6: NPS +25; 4 of 5 answered. vip (ann, dan): 10 7 10: NPS 66.7; 3 of 5.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import httpx
import pytest

from daemon.cli import main
from daemon.clock import FakeClock
from daemon.config import Config
from daemon.engine.segments import Nps, segment
from daemon.intake.events import EventIn
from daemon.owner import report
from daemon.run.services import Services
from daemon.store import SQLiteStore
from daemon.store.rows import Answer, NewInvitation
from daemon.web import create_app

from helpers import ENV, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
TAGS = {"ann": ["kitchen", "vip"], "bob": ["kitchen"], "cat": [], "dan": ["vip"], "eve": []}
MONTHS = [f"2025-{m:02d}" for m in range(4, 13)] + ["2026-01", "2026-02", "2026-03"]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


async def seed(store: SQLiteStore, now: datetime) -> None:
    events = count(1)

    async def invite(name: str, survey: str, *, sent: bool = True) -> tuple[int, int]:
        customer = {"email": f"{name}@example.com", "tags": TAGS[name]}
        event = EventIn.model_validate(
            {
                "id": f"order-{next(events)}",
                "type": "purchase.completed",
                "occurred_at": now.isoformat(),
                "customer": {k: v for k, v in customer.items() if v},
            }
        )
        await store.record_event(event, now)
        [stored] = await store.unprocessed_events(10)
        assert stored.customer_id is not None
        plan = NewInvitation(survey, now, now + timedelta(days=30))
        [invitation] = await store.settle_event(stored.seq, stored.customer_id, [plan], now)
        if sent:
            await store.invitation_sent(invitation, now, None)
        return stored.customer_id, invitation

    async def answer(invited: tuple[int, int], survey: str, score: int, at: str) -> None:
        customer_id, invitation = invited
        label = segment(score).value
        given = Answer(customer_id, survey, score, label, None, "page", utc(at), invitation)
        await store.save_answer(given, now)

    pp, pc = "post_purchase", "project_completion"
    await answer(await invite("ann", pp), pp, 10, "2026-03-01T10:00")
    await answer(await invite("bob", pp), pp, 9, "2026-02-10T12:00")
    await answer(await invite("cat", pp), pp, 3, "2025-08-31T23:30")
    await invite("dan", pp)
    eve = await store.ensure_customer("eve@example.com", now)
    webhook = Answer(eve.id, pp, 8, "passive", "ok", "webhook", utc("2026-02-20T12:00"))
    await store.save_answer(webhook, now)
    await answer(await invite("ann", pp), pp, 7, "2025-03-31T22:30")
    await answer(await invite("bob", pc), pc, 6, "2025-03-31T23:30")
    await answer(await invite("dan", pc), pc, 10, "2026-01-15T12:00")
    await invite("cat", pc, sent=False)
    await invite("ann", pc)


@pytest.fixture
async def seeded(store: SQLiteStore, clock: FakeClock) -> SQLiteStore:
    await seed(store, clock.now())
    return store


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("daemon.cli.SystemClock", lambda: clock)


async def build(
    store: SQLiteStore, config: Config, now: datetime, months: int = 12
) -> report.Report:
    timezone = config.settings.business.timezone
    starts = report.month_starts(now, timezone, months)
    return report.build(
        now=now,
        timezone=timezone,
        starts=starts,
        surveys=config.surveys,
        scores=await store.score_tallies(),
        sent=await store.sent_tallies(),
        monthly=await store.monthly_tallies(starts),
    )


def nps_score(nps: dict[str, Any] | None) -> float | None:
    return None if nps is None else nps["score"]


# the pure parts


def test_month_starts_are_local_midnights() -> None:
    now = utc("2026-03-02T09:00")
    starts = report.month_starts(now, "Europe/London", 12)
    assert len(starts) == 13
    assert starts[0] == utc("2025-03-31T23:00")  # 1 April, 00:00 BST
    assert starts[-2] == utc("2026-03-01T00:00")  # 1 March, 00:00 GMT
    assert starts[-1] == utc("2026-03-31T23:00")  # 1 April, 00:00 BST


def test_month_starts_follow_the_business_zone_not_utc() -> None:
    late = utc("2026-03-31T23:30")  # already April in Tokyo, still March in UTC and New York
    assert report.month_starts(late, "Asia/Tokyo", 1)[0] == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)
    assert report.month_starts(late, "America/New_York", 1)[0] == utc("2026-03-01T05:00")
    jan = report.month_starts(utc("2026-01-15T12:00"), "UTC", 3)
    assert [s.strftime("%Y-%m") for s in jan] == ["2025-11", "2025-12", "2026-01", "2026-02"]


@pytest.mark.parametrize("months", [0, report.MAX_MONTHS + 1])
def test_month_starts_refuses_silly_lengths(months: int) -> None:
    with pytest.raises(ValueError, match="1 to 120 months"):
        report.month_starts(utc("2026-03-02T09:00"), "UTC", months)


def test_an_empty_store_reports_dashes_not_zeros() -> None:
    now = utc("2026-03-02T09:00")
    built = report.build(
        now=now,
        timezone="UTC",
        starts=report.month_starts(now, "UTC", 2),
        surveys=["post_purchase"],
        scores=[],
        sent=[],
        monthly=[],
    )
    data = report.to_json(built)
    assert data["overall"]["nps"] is None
    assert data["overall"]["response_rate"]["rate"] is None
    assert data["surveys"]["post_purchase"]["trend"] == [
        {
            "month": m,
            "responses": 0,
            "segments": dict.fromkeys(["promoter", "passive", "detractor"], 0),
            "nps": None,
        }
        for m in ["2026-02", "2026-03"]
    ]
    table = report.to_table(built)
    overall = next(line for line in table.splitlines() if line.startswith("overall"))
    assert overall.split() == ["overall", "0", "—", "—", "0", "0", "0", "0", "0", "—"]
    assert "without an invitation" not in table
    with pytest.raises(ValueError, match="unknown report format"):
        report.render(built, "xml")


# figures from a real store


async def test_figures_overall_per_survey_and_per_tag(
    seeded: SQLiteStore, config: Config, clock: FakeClock
) -> None:
    data = report.to_json(await build(seeded, config, clock.now()))
    overall, surveys, tags = data["overall"], data["surveys"], data["tags"]

    assert overall["responses"] == 7
    assert overall["segments"] == {"promoter": 3, "passive": 2, "detractor": 2}
    # adjusted Wald: n' = 10, p' = .375, d' = .275, var = .64 -> margin 1.96*sqrt(.064)*100
    assert overall["nps"] == {"score": 14.3, "margin": 49.6, "low": -39.6, "high": 59.6}
    assert overall["distribution"] == [0, 0, 0, 1, 0, 0, 1, 1, 1, 1, 2]
    assert overall["response_rate"] == {
        "sent": 8,
        "answered": 6,
        "rate": 0.75,
        "without_invitation": 1,
    }

    assert list(surveys) == ["post_purchase", "project_completion"]
    pp, pc = surveys["post_purchase"], surveys["project_completion"]
    assert (pp["responses"], nps_score(pp["nps"])) == (5, 20.0)
    assert pp["segments"] == {"promoter": 2, "passive": 2, "detractor": 1}
    assert pp["response_rate"] == {"sent": 5, "answered": 4, "rate": 0.8, "without_invitation": 1}
    assert (pc["responses"], nps_score(pc["nps"])) == (2, 0.0)
    assert pc["distribution"] == [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert pc["response_rate"] == {"sent": 3, "answered": 2, "rate": 0.667, "without_invitation": 0}

    assert list(tags) == ["kitchen", "vip"]
    kitchen, vip = tags["kitchen"], tags["vip"]
    assert kitchen["segments"] == {"promoter": 2, "passive": 1, "detractor": 1}
    assert nps_score(kitchen["nps"]) == 25.0
    assert kitchen["response_rate"] == {
        "sent": 5,
        "answered": 4,
        "rate": 0.8,
        "without_invitation": 0,
    }
    assert vip["segments"] == {"promoter": 2, "passive": 1, "detractor": 0}
    assert nps_score(vip["nps"]) == 66.7
    assert vip["response_rate"]["rate"] == 0.6
    for group in (overall, pp, pc, kitchen, vip):
        expected = Nps.from_counts(*group["segments"].values())
        assert group["nps"]["margin"] == round(expected.margin or 0, 1)


async def test_monthly_trend_uses_the_business_months(
    seeded: SQLiteStore, config: Config, clock: FakeClock
) -> None:
    data = report.to_json(await build(seeded, config, clock.now()))
    assert data["months"] == MONTHS

    def trend(group: dict[str, Any]) -> dict[str, tuple[int, float | None]]:
        return {
            t["month"]: (t["responses"], nps_score(t["nps"]))
            for t in group["trend"]
            if t["responses"]
        }

    # 2025-08-31 23:30 UTC is September in London; 2025-03-31 23:30 UTC is April (in the
    # window), 22:30 UTC is still March (before it).
    assert trend(data["overall"]) == {
        "2025-04": (1, -100.0),
        "2025-09": (1, -100.0),
        "2026-01": (1, 100.0),
        "2026-02": (2, 50.0),
        "2026-03": (1, 100.0),
    }
    assert trend(data["surveys"]["project_completion"]) == {
        "2025-04": (1, -100.0),
        "2026-01": (1, 100.0),
    }
    assert trend(data["tags"]["kitchen"]) == {
        "2025-04": (1, -100.0),
        "2026-02": (1, 100.0),
        "2026-03": (1, 100.0),
    }
    assert trend(data["tags"]["vip"]) == {"2026-01": (1, 100.0), "2026-03": (1, 100.0)}
    short = report.to_json(await build(seeded, config, clock.now(), months=2))
    assert short["months"] == ["2026-02", "2026-03"]
    assert [t["responses"] for t in short["overall"]["trend"]] == [2, 1]


# the CLI


def test_cli_table(
    seeded: SQLiteStore, config: Config, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--config", str(config.path)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "NPS report, 2026-03-02 09:00 Europe/London"
    header = next(line for line in lines if line.startswith("group"))
    assert header.split("  ")[0] == "group" and "95% interval" in header
    summary = lines[lines.index(header) : lines.index(header) + 6]
    rows = {line.split("  ")[0].strip(): line.split() for line in summary}
    # label, n, NPS ±margin, low to high, promoters, passives, detractors, sent, answered, rate
    assert rows["overall"][1:] == [
        "7",
        "+14",
        "±50",
        "-40",
        "to",
        "+60",
        "3",
        "2",
        "2",
        "8",
        "6",
        "75%",
    ]
    assert rows["survey post_purchase"][2:6] == ["5", "+20", "±51", "-39"]
    assert rows["tag vip"][2:5] == ["3", "+67", "±55"]
    assert "1 response came without an invitation (webhook, reply)" in out
    assert rows["survey project_completion"][2:5] == ["2", "0", "±73"]
    distribution = lines[lines.index("Score distribution (responses per score)") + 2]
    assert distribution.split() == [
        "overall",
        "0",
        "0",
        "0",
        "1",
        "0",
        "0",
        "1",
        "1",
        "1",
        "1",
        "2",
    ]
    trend = lines[lines.index("Monthly trend (Europe/London)") + 1 :]
    assert trend[0].split() == ["month", "overall", "survey", "post_purchase", "survey",
                                "project_completion", "tag", "kitchen", "tag", "vip"]  # fmt: skip
    assert trend[1].split() == ["2025-04", "-100", "±74", "n=1", "—", "-100", "±74", "n=1",
                                "-100", "±74", "n=1", "—"]  # fmt: skip
    assert trend[6].split()[:4] == ["2025-09", "-100", "±74", "n=1"]
    # aligned: the last column is right-aligned, so every line of a table ends at one place
    assert len({len(line) for line in summary}) == 1
    assert len({len(line) for line in trend[:13]}) == 1


def test_cli_csv(
    seeded: SQLiteStore, config: Config, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--config", str(config.path), "--format", "csv", "--months", "3"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0]) == report.CSV_HEADER
    overall = rows[0]
    assert (overall["kind"], overall["key"], overall["month"]) == ("overall", "", "")
    assert overall["responses"] == "7" and overall["nps"] == "14.3" and overall["margin"] == "49.6"
    assert (overall["sent"], overall["answered"], overall["rate"]) == ("8", "6", "0.75")
    assert overall["without_invitation"] == "1" and overall["score_10"] == "2"
    keys = [(r["kind"], r["key"], r["month"]) for r in rows]
    assert keys[:5] == [
        ("overall", "", ""),
        ("survey", "post_purchase", ""),
        ("survey", "project_completion", ""),
        ("tag", "kitchen", ""),
        ("tag", "vip", ""),
    ]
    assert len(rows) == 5 + 5 * 3
    feb = next(r for r in rows if (r["kind"], r["month"]) == ("overall", "2026-02"))
    assert (feb["responses"], feb["promoters"], feb["passives"], feb["nps"]) == (
        "2",
        "1",
        "1",
        "50.0",
    )
    assert feb["sent"] == "" and feb["score_0"] == ""
    dec = next(r for r in rows if (r["kind"], r["month"]) == ("overall", "2026-01"))
    assert dec["responses"] == "1"
    empty = next(r for r in rows if (r["key"], r["month"]) == ("vip", "2026-02"))
    assert (empty["responses"], empty["nps"], empty["low"]) == ("0", "", "")


def test_cli_json_and_bad_months(
    seeded: SQLiteStore, config: Config, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--config", str(config.path), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["generated_at"] == "2026-03-02T09:00:00+00:00"
    assert data["timezone"] == "Europe/London" and data["confidence"] == 0.95
    assert data["months"] == MONTHS
    assert data["overall"]["responses"] == 7
    assert main(["report", "--config", str(config.path), "--months", "0"]) == 2
    assert "--months: from 1 to 120" in capsys.readouterr().err


# HTTP


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as client:
        yield client


async def test_http_needs_the_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/reports/nps")
    assert response.status_code == 401
    wrong = await client.get("/v1/reports/nps", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


async def test_http_returns_what_the_cli_prints(
    seeded: SQLiteStore,
    config: Config,
    client: httpx.AsyncClient,
    cli_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    response = await client.get("/v1/reports/nps", headers=AUTH)
    assert response.status_code == 200
    args = ["report", "--config", str(config.path), "--format", "json"]
    assert await asyncio.to_thread(main, args) == 0
    assert response.json() == json.loads(capsys.readouterr().out)
    assert response.json()["overall"]["nps"]["score"] == 14.3

    short = await client.get("/v1/reports/nps", params={"months": 3}, headers=AUTH)
    assert short.json()["months"] == ["2026-01", "2026-02", "2026-03"]
    bad = await client.get("/v1/reports/nps", params={"months": 0}, headers=AUTH)
    assert bad.status_code == 422
