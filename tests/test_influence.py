"""Influence end to end: the owner's mark (CLI and API), tag weights and history; the daily cap
asks the most influential first and the rest on the following days, with the reason kept; the
advocates report; fake clock, real app, real store, real SMTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from loop import AUTH, Loop, running, smtp_changes

from daemon.config import Config

from helpers import ENV, query
from smtp_server import SmtpServer

ANN, BO, CY, DI, ED = (f"{n}@example.com" for n in ("ann", "bo", "cy", "di", "ed"))
NAMES = {ANN: "Ann Abbott", BO: "Bo Brown", CY: "Cy Clark", DI: "Di Dunn", ED: "Ed Evans"}


@pytest.fixture
def loop_config(
    make_config: Callable[..., Config], smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> Config:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    referrals = {"daily_ask_cap": 2, "influence": {"tags": {"board-member": 3}}}
    return make_config({**smtp_changes(smtp_server), "referrals": referrals})


async def cli(loop: Loop, *args: str) -> int:
    from daemon.cli import main

    return await asyncio.to_thread(main, [*args, "--config", str(loop.services.config.path)])


async def promoter(loop: Loop, email: str, **customer: Any) -> None:
    """A customer who answered 10 and whose project was completed on Monday 09:00."""
    await loop.event("purchase.completed", email, "2026-02-20T10:00:00Z", name=NAMES[email])
    answer = await loop.client.post(
        "/v1/responses",
        json={"customer": {"email": email}, "survey": "post_purchase", "score": 10},
        headers=AUTH,
    )
    assert answer.status_code == 202
    await loop.event(
        "project.completed", email, "2026-03-02T09:00:00Z", name=NAMES[email], **customer
    )


async def asked_until(loop: Loop, day: str) -> list[str]:
    """Travel to the end of `day` (2026-03-DD); whom the referral asks went to on the way."""
    end = int(day[-2:])
    target = loop.clock.now().replace(day=end, hour=23, minute=0)
    await loop.travel(target - loop.clock.now(), step=timedelta(hours=1))
    return sorted(
        m["To"].addresses[0].addr_spec for m in loop.new_mail() if "small favour" in m["Subject"]
    )


async def ask_story(loop: Loop, email: str) -> list[dict[str, Any]]:
    story = await loop.client.get(f"/v1/customers/{email}", headers=AUTH)
    asks: list[dict[str, Any]] = story.json()["asks"]
    return asks


async def test_the_daily_cap_asks_the_most_influential_first(loop: Loop) -> None:
    for email in (ANN, BO, CY, DI):
        await promoter(loop, email)
    await promoter(loop, ED, tags=["board-member"])  # +3
    marked = await loop.client.put(f"/v1/customers/{CY}/influence", json={"mark": 8}, headers=AUTH)
    assert marked.json() == {"email": CY, "influence": 8.0, "why": ["mark 8 (api)"]}
    assert await cli(loop, "customer", "mark", BO, "--influence", "1") == 0
    await loop.run()  # the five moments: five asks due Tuesday 09:00
    # Tuesday: two places; Cy (8) and Ed (3) go, Bo (1), Ann (0) and Di (0) wait.
    assert await asked_until(loop, "2026-03-03") == [CY, ED]
    (held,) = await ask_story(loop, DI)
    assert held["state"] == "scheduled"
    assert held["reason"] == (
        "daily cap of 2 asks reached on 2026-03-03: influence 0 ranks 5th of 5 asks for the day; "
        "waiting for the next day (next try 2026-03-04 09:00 UTC)"
    )
    assert held["due_at"] == "2026-03-04T09:00:00+00:00"
    # Wednesday: Bo (1), then Ann (0, her moment recorded before Di's); Di waits once more.
    assert await asked_until(loop, "2026-03-04") == [ANN, BO]
    (held,) = await ask_story(loop, DI)
    assert held["reason"].startswith(
        "daily cap of 2 asks reached on 2026-03-04: influence 0 ranks 3rd of 3"
    )
    # Thursday: Di, still inside the moment's life (14 days), is asked.
    assert await asked_until(loop, "2026-03-05") == [DI]
    for email in (ANN, BO, CY, DI, ED):
        (ask,) = await ask_story(loop, email)
        assert ask["state"] == "sent", email
    assert await asked_until(loop, "2026-03-09") == []  # nothing sent twice


async def test_no_cap_no_waiting(
    make_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    config = make_config(smtp_changes(smtp_server))
    async with running(config, smtp_server, store_url) as ran:
        for email in (ANN, BO, CY):
            await promoter(ran, email)
        await ran.run()
        assert await asked_until(ran, "2026-03-03") == [ANN, BO, CY]


async def test_marks_by_cli_and_api_say_what_is_wrong(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    await promoter(loop, ANN)
    assert await cli(loop, "customer", "mark", ANN, "--influence", "11") == 2
    assert "--influence: influence must be a whole number from 0 to 10, got '11'" in (
        capsys.readouterr().err
    )
    assert await cli(loop, "customer", "mark", "nobody@example.com", "--influence", "3") == 1
    assert "no customer 'nobody@example.com'" in capsys.readouterr().err
    assert await cli(loop, "customer", "mark", ANN, "--influence", "4") == 0
    assert "ann@example.com: marked 4; influence now 4 (mark 4 (owner))" in capsys.readouterr().out
    for bad in (11, -1, "5", True, 2.5):
        answer = await loop.client.put(
            f"/v1/customers/{ANN}/influence", json={"mark": bad}, headers=AUTH
        )
        assert answer.status_code == 422, bad
        assert answer.json()["problems"][0]["field"] == "mark"
    missing = await loop.client.put(
        "/v1/customers/nobody@example.com/influence", json={"mark": 3}, headers=AUTH
    )
    assert missing.status_code == 404 and "no customer" in missing.json()["error"]
    assert (
        await loop.client.put(f"/v1/customers/{ANN}/influence", json={"mark": 3})
    ).status_code == 401
    cleared = await loop.client.put(
        f"/v1/customers/{ANN}/influence", json={"mark": None}, headers=AUTH
    )
    assert cleared.json() == {"email": ANN, "influence": 0.0, "why": []}
    assert await cli(loop, "customer", "mark", ANN, "--clear") == 0
    assert "mark removed; influence now 0 (nothing counts yet)" in capsys.readouterr().out


async def test_the_advocates_report_ranks_and_says_why(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    for email in (ANN, BO, CY, DI):
        await promoter(loop, email)
    await promoter(loop, ED, tags=["board-member", "vip"])
    await loop.client.put(f"/v1/customers/{CY}/influence", json={"mark": 8}, headers=AUTH)
    await cli(loop, "customer", "mark", BO, "--influence", "1")
    await asked_until(loop, "2026-03-05")
    store = loop.services.store
    ann = await store.customer_by_email(ANN)
    assert ann is not None
    advocate = await store.ensure_advocate(ann.id, loop.clock.now())
    introduced = await loop.client.post(
        f"/r/{advocate.code}/introduce",
        data={
            "friend_name": "Flo",
            "friend_email": "flo@example.com",
            "advocate_introduces": "yes",
        },
    )
    assert introduced.status_code == 200
    await loop.client.post(
        f"/r/{advocate.code}/introduce",
        data={"friend_name": "Me", "friend_email": ANN},  # a self-referral: never counts
    )
    rows = query(store, "SELECT public_id FROM referrals WHERE flag IS NULL")
    won = await loop.client.post(
        f"/v1/referrals/{rows[0][0]}/status", json={"status": "won", "value": 800}, headers=AUTH
    )
    assert won.status_code == 200
    praise = {
        "id": "praise-di",
        "type": "testimonial.received",
        "occurred_at": "2026-03-05T10:00:00Z",
        "customer": {"email": DI},
        "data": {"text": "Wonderful crew.", "source": "email", "solicited": False},
    }
    assert (await loop.client.post("/v1/events", json=praise, headers=AUTH)).status_code == 202
    await loop.run()
    data = (await loop.client.get("/v1/reports/advocates", headers=AUTH)).json()
    assert data["weights"] == {
        "referral": 1.0,
        "grade_a": 2.0,
        "testimonial": 1.0,
        "win": 3.0,
        "tags": {"board-member": 3.0},
    }
    ranked = [(a["rank"], a["email"], a["influence"], a["why"]) for a in data["advocates"]]
    assert ranked == [
        (1, CY, 8.0, ["mark 8 (api)"]),
        # one grade A introduction that was won: 1 + 2 + 3 = 6
        (2, ANN, 6.0, ["1 referral +1", "1 grade A introduction +2", "1 win +3"]),
        (3, ED, 3.0, ["tag board-member +3"]),
        (4, BO, 1.0, ["mark 1 (owner)"]),
        (5, DI, 1.0, ["1 testimonial +1"]),
    ]
    assert data["advocates"][1] | {"why": []} == {
        "rank": 2,
        "email": ANN,
        "name": "Ann Abbott",
        "influence": 6.0,
        "mark": None,
        "tags": [],
        "referrals": 1,
        "grade_a": 1,
        "testimonials": 0,
        "wins": 1,
        "why": [],
    }
    assert data["advocates"][2]["tags"] == ["board-member"]  # "vip" carries no weight
    assert await cli(loop, "report", "advocates") == 0
    table = capsys.readouterr().out
    assert "influence = mark (0-10) + tag weights (board-member +3) + 1 a referral" in table
    assert "  1         8  Cy Clark <cy@example.com>        mark 8 (api)" in table
    assert "1 referral +1; 1 grade A introduction +2; 1 win +3" in table
    assert await cli(loop, "report", "advocates", "--format", "json") == 0
    assert json.loads(capsys.readouterr().out) == data
    assert (await loop.client.get("/v1/reports/advocates")).status_code == 401


async def test_a_held_ask_whose_moment_would_pass_is_skipped_with_its_reason(
    make_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    referrals = {"daily_ask_cap": 1, "moment_life_days": 1}
    config = make_config({**smtp_changes(smtp_server), "referrals": referrals})
    async with running(config, smtp_server, store_url) as ran:
        await promoter(ran, ANN)
        await promoter(ran, BO)
        await ran.client.put(f"/v1/customers/{BO}/influence", json={"mark": 2}, headers=AUTH)
        await ran.run()
        assert await asked_until(ran, "2026-03-04") == [BO]
        (dropped,) = await ask_story(ran, ANN)
        assert dropped["state"] == "skipped"
        assert dropped["reason"] == (
            "daily cap of 1 ask reached on 2026-03-03: influence 0 ranks 2nd of 2 asks for the "
            "day; the moment of 2026-03-02 is more than 1 day old by the next day, so it is not "
            "carried over"
        )


async def test_the_mark_is_personal_data(loop: Loop) -> None:
    await promoter(loop, ANN)
    await loop.client.put(f"/v1/customers/{ANN}/influence", json={"mark": 6}, headers=AUTH)
    store = loop.services.store
    exported = await store.person_export(ANN)
    assert [(m["mark"], m["source"]) for m in exported["influence_mark"]] == [(6, "api")]
    forgotten = await store.forget(ANN, loop.clock.now())
    assert forgotten["changed"]["influence_mark"] == 1
    assert query(store, "SELECT count(*) FROM influence_marks") == [(0,)]
