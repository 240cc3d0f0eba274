"""The customer life cycle end to end: events through the real API become stages in the real
store; the report counts them by month in the business's time zone; the customer lookup shows
the road; referrals.min_stage holds back asks (real SMTP server); an upgrade backfills."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from loop import AUTH, Loop, path_of, running, smtp_changes, text_of

from daemon.cli import main
from daemon.config import Config
from daemon.engine.lifecycle_types import Stage
from daemon.errors import ConfigError
from daemon.intake.events import EventIn
from daemon.owner import stages
from daemon.store import SQLiteStore
from daemon.store.migrations import MIGRATIONS

from helpers import ENV, plant, write_business
from smtp_server import SmtpServer

ANN, BO, CY = "ann@example.com", "bo@example.com", "cy@example.com"
LA = "America/Los_Angeles"  # UTC-8 in winter, UTC-7 from 8 March 2026


@pytest.fixture
def loop_config(make_config: Callable[..., Config], smtp_server: SmtpServer) -> Config:
    return make_config({**smtp_changes(smtp_server), "business": {"timezone": LA}})


async def post(loop: Loop, id_: str, type_: str, email: str, when: str, **data: Any) -> None:
    body = {
        "id": id_,
        "type": type_,
        "occurred_at": when,
        "customer": {"email": email, "name": email.split("@")[0].title()},
        "data": data,
    }
    answer = await loop.client.post("/v1/events", json=body, headers=AUTH)
    assert answer.status_code == 202, answer.text


async def road(loop: Loop, email: str) -> tuple[str | None, list[tuple[str, str, str]]]:
    """The stage and road as GET /v1/customers/{email} shows them."""
    answer = await loop.client.get(f"/v1/customers/{email}", headers=AUTH)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    return body["stage"], [(s["stage"], s["at"], s["by"]) for s in body["road"]]


async def test_stages_from_a_seeded_history(loop: Loop) -> None:
    # Ann's events arrive out of order, one twice, with types Vouch does not know among them
    await post(loop, "o-2", "purchase.completed", ANN, "2026-02-20T10:00:00Z")
    await post(loop, "n-1", "newsletter.subscribed", ANN, "2026-01-05T10:00:00Z")
    await post(loop, "o-2", "purchase.completed", ANN, "2026-02-20T10:00:00Z")  # a replay
    await post(loop, "w-1", "webinar.attended", ANN, "2026-01-06T10:00:00Z")  # unknown type
    await post(loop, "l-1", "lead.created", ANN, "2026-01-02T10:00:00Z")
    await post(loop, "q-1", "quote.requested", ANN, "2026-01-20T10:00:00Z")
    await post(loop, "t-1", "trial.started", ANN, "2026-03-01T10:00:00Z")  # after buying
    await loop.run()
    assert await road(loop, ANN) == (
        "buy",
        [
            ("know", "2026-01-02T10:00:00+00:00", "lead.created"),
            ("like", "2026-01-05T10:00:00+00:00", "newsletter.subscribed"),
            ("trust", "2026-01-20T10:00:00+00:00", "quote.requested"),
            ("buy", "2026-02-20T10:00:00+00:00", "purchase.completed"),
        ],
    )
    # a purchase that happened before the one we knew of arrives late: it is the first
    # purchase, and the one we knew of becomes the repeat
    await post(loop, "o-1", "purchase.completed", ANN, "2026-02-01T10:00:00Z")
    await post(loop, "c-1", "consultation.booked", BO, "2026-02-03T10:00:00Z")
    await post(loop, "e-1", "content.engaged", BO, "2026-02-04T10:00:00Z")  # no step forward
    await post(loop, "x-1", "carrier.pigeon_landed", CY, "2026-02-04T10:00:00Z")
    await loop.run()
    stage, steps = await road(loop, ANN)
    assert stage == "repeat"
    assert [(s, at[:10]) for s, at, _ in steps][-2:] == [
        ("buy", "2026-02-01"),
        ("repeat", "2026-02-20"),
    ]
    assert await road(loop, BO) == (
        "trust",
        [("trust", "2026-02-03T10:00:00+00:00", "consultation.booked")],
    )
    assert await road(loop, CY) == (None, [])
    counts = await loop.services.store.stage_counts()
    assert counts.at == {
        "know": 0, "like": 0, "trust": 1, "try": 0, "buy": 0, "repeat": 1, "refer": 0
    }  # fmt: skip
    assert (counts.unstaged, counts.pending) == (1, 0)
    receipt = await loop.client.post(
        "/v1/events",
        json={"id": "l-9", "type": "lead.created", "occurred_at": "2026-03-02T09:00:00Z"},
        headers=AUTH,
    )
    assert "warnings" not in receipt.json()  # the life-cycle types are known


async def test_monthly_moves_across_month_ends_in_the_business_time_zone(loop: Loop) -> None:
    clock = loop.clock

    async def at(moment: str) -> None:
        clock.advance(datetime.fromisoformat(moment) - clock.now())
        await loop.run()

    async def report(months: int) -> dict[str, Any]:
        answer = await loop.client.get(f"/v1/reports/stages?months={months}", headers=AUTH)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def moved(data: dict[str, Any]) -> dict[str, dict[str, int]]:
        return {m["month"]: {k: v for k, v in m["moved"].items() if v} for m in data["months"]}

    # Bo's first purchase: 1 March 04:00 UTC is still 28 February in Los Angeles
    await post(loop, "b1", "purchase.completed", BO, "2026-03-01T04:00:00Z")
    await loop.run()
    data = await report(2)
    assert data["timezone"] == LA and data["generated_at"] == "2026-03-02T01:00:00-08:00"
    assert moved(data) == {"2026-02": {"buy": 1}, "2026-03": {}}
    await at("2026-03-15T18:00:00+00:00")
    await post(loop, "b2", "purchase.completed", BO, "2026-03-15T18:00:00Z")
    # 06:30 UTC on 1 April is 23:30 on 31 March in Los Angeles: still March there
    await at("2026-04-01T06:30:00+00:00")
    await post(loop, "a1", "lead.created", ANN, "2026-04-01T06:30:00Z")
    await loop.run()
    assert moved(await report(2)) == {"2026-02": {"buy": 1}, "2026-03": {"repeat": 1, "know": 1}}
    # an hour later it is April in Los Angeles too, and Ann buys
    await at("2026-04-01T07:30:00+00:00")
    await post(loop, "a2", "purchase.completed", ANN, "2026-04-01T07:30:00Z")
    await loop.run()
    assert moved(await report(2)) == {"2026-03": {"repeat": 1, "know": 1}, "2026-04": {"buy": 1}}
    # Cy starts a trial a minute before May in Los Angeles (already May in UTC)
    await at("2026-05-01T06:59:00+00:00")
    await post(loop, "c1", "trial.started", CY, "2026-05-01T06:59:00Z")
    await loop.travel(timedelta(days=1), step=timedelta(hours=6))
    data = await report(3)
    assert moved(data) == {
        "2026-03": {"repeat": 1, "know": 1},
        "2026-04": {"buy": 1, "try": 1},
        "2026-05": {},
    }
    assert [m["total"] for m in data["months"]] == [2, 2, 0]
    assert data["now"] == {
        "know": 0, "like": 0, "trust": 0, "try": 1, "buy": 1, "repeat": 1, "refer": 0
    }  # fmt: skip
    # the dashboard's entry point gives the same figures
    services = loop.services
    direct = await stages.report(services.store, clock.now(), LA, 3)
    assert direct == data
    text = stages.render(direct, "table")
    assert re.search(r"^2026-04\s+0\s+0\s+0\s+1\s+1\s+0\s+0\s+2$", text, re.M), text
    assert re.search(r"^repeat\s+1$", text, re.M), text


# referrals.min_stage ----------------------------------------------------------------------------


@pytest.fixture
async def picky(
    make_config: Any, smtp_server: SmtpServer, store_url: str | None
) -> AsyncIterator[Loop]:
    config = make_config({**smtp_changes(smtp_server), "referrals": {"min_stage": "repeat"}})
    async with running(config, smtp_server, store_url) as loop:
        yield loop


async def promoter(loop: Loop, email: str, purchases: int) -> None:
    for n in range(purchases):
        await post(
            loop, f"{email}-o{n}", "purchase.completed", email, f"2026-02-{10 + n}T10:00:00Z"
        )
    answer = await loop.client.post(
        "/v1/responses",
        json={"customer": {"email": email}, "survey": "post_purchase", "score": 10},
        headers=AUTH,
    )
    assert answer.status_code == 202, answer.text
    await post(loop, f"{email}-p", "project.completed", email, "2026-03-02T09:00:00Z")


def asks_to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    """The referral asks among messages: the ones with a personal referral link."""
    return [
        m for m in messages if m["To"].addresses[0].addr_spec == address and "/r/" in text_of(m)
    ]


async def test_min_stage_asks_a_repeat_promoter_and_not_a_buy_one(picky: Loop) -> None:
    loop = picky
    await promoter(loop, BO, purchases=1)  # a promoter, but at Buy
    await promoter(loop, ANN, purchases=2)  # a promoter at Repeat
    await loop.travel(timedelta(days=3), step=timedelta(hours=2))
    mail = loop.mail()
    assert len(asks_to(mail, ANN)) == 1
    assert asks_to(mail, BO) == []
    answer = await loop.client.get(f"/v1/customers/{BO}", headers=AUTH)
    body = answer.json()
    assert body["stage"] == "buy"
    (ask,) = body["asks"]
    assert (ask["moment"], ask["state"]) == ("project_completed", "skipped")
    assert ask["reason"] == (
        "life cycle: the customer stands at buy; only customers at repeat or beyond are asked "
        "(referrals.min_stage)"
    )
    ann = (await loop.client.get(f"/v1/customers/{ANN}", headers=AUTH)).json()
    assert ann["stage"] == "repeat" and ann["asks"][0]["state"] == "sent"


async def test_min_stage_holds_a_carried_moment_too(picky: Loop) -> None:
    loop = picky  # no score yet: the project survey goes first, the ask would follow a 9 or 10
    await post(loop, "bo-p", "project.completed", BO, "2026-03-02T09:00:00Z")
    await loop.travel(timedelta(days=1, hours=2))
    (survey,) = loop.new_mail()
    links = dict(re.findall(r"^(\d+): (http\S+)$", text_of(survey), re.M))
    await loop.client.post(path_of(links["9"]), data={"score": "9", "via": "form"})
    await loop.travel(timedelta(days=3), step=timedelta(hours=2))
    assert asks_to(loop.mail(), BO) == []
    body = (await loop.client.get(f"/v1/customers/{BO}", headers=AUTH)).json()
    assert body["stage"] == "buy"  # a completed project is work bought
    (ask,) = body["asks"]
    assert ask["state"] == "skipped" and "stands at buy" in ask["reason"]


async def test_a_referral_makes_the_advocate_refer_and_the_friend_know(picky: Loop) -> None:
    loop = picky
    await promoter(loop, ANN, purchases=2)
    await loop.travel(timedelta(days=3), step=timedelta(hours=2))
    (ask,) = asks_to(loop.mail(), ANN)
    found = re.search(r"/r/([A-Za-z0-9_-]+)", text_of(ask))
    assert found is not None
    loop.clock.advance(timedelta(days=2))
    form = {"friend_name": "Dee", "friend_email": "dee@example.com", "expects_contact": "yes"}
    sent = await loop.client.post(f"/r/{found.group(1)}/introduce", data=form)
    assert sent.status_code == 200
    stage, steps = await road(loop, ANN)
    assert stage == "refer"
    assert [(s, by) for s, _, by in steps] == [
        ("buy", "purchase.completed"),
        ("repeat", "purchase.completed"),
        ("refer", "referral"),
    ]
    assert steps[-1][1] == loop.clock.now().isoformat()
    assert await road(loop, "dee@example.com") == (
        "know",
        [("know", loop.clock.now().isoformat(), "referred")],
    )
    store = loop.services.store
    exported = await store.person_export(ANN)  # the road is theirs to see
    assert [(m["stage"], m["by"]) for m in exported["life_cycle"]][-1] == ("refer", "referral")
    await store.forget(ANN, loop.clock.now())  # an anonymous figure: it stays counted
    assert (await store.stage_counts()).at["refer"] == 1


def test_min_stage_must_be_a_stage(tmp_path: Path) -> None:
    path = write_business(tmp_path, {"referrals": {"min_stage": "loyal"}})
    from daemon.config import load_config

    with pytest.raises(ConfigError) as raised:
        load_config(path, ENV)
    (problem,) = raised.value.problems
    assert problem.where == "referrals.min_stage"
    assert '"know", "like", "trust", "try", "buy", "repeat", "refer"' in problem.message
    assert 'got "loyal"' in problem.message


# the backfill after an upgrade -----------------------------------------------------------------


def _old_store(path: Path) -> None:
    """A store as the Vouch before the life cycle left it, with a history in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)")
    for version, name, sql in MIGRATIONS:
        if version < 11:
            db.executescript(sql)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, name))
    ms = int(datetime(2026, 1, 10, tzinfo=UTC).timestamp() * 1000)
    day = 86_400_000
    for n, email in enumerate((ANN, BO, CY, "dee@example.com"), start=1):
        db.execute(
            "INSERT INTO customers (id, email, created_at, updated_at, public_id) "
            "VALUES (?, ?, ?, ?, ?)",
            (n, email, ms, ms, f"p{n}"),
        )
    events = [
        ("e1", "purchase.completed", ms, 1),
        ("e2", "purchase.completed", ms + 5 * day, 1),
        ("e3", "quote.requested", ms, 2),  # a type that was unknown then: stored all the same
        ("e4", "testimonial.received", ms, 3),
    ]
    for id_, type_, at, customer in events:
        db.execute(
            "INSERT INTO events (id, type, known, occurred_at, received_at, customer_id, "
            "body_hash, payload, receipt, processed_at) VALUES (?, ?, 1, ?, ?, ?, '', '{}', "
            "'{}', ?)",
            (id_, type_, at, at, customer, at),
        )
    db.execute(
        "INSERT INTO advocates (id, customer_id, code, created_at) VALUES (1, 1, 'c', ?)", (ms,)
    )
    db.execute(
        "INSERT INTO referrals (public_id, advocate_id, friend_customer_id, expects_contact, "
        "advocate_introduces, grade, channel, status, created_at, updated_at) "
        "VALUES ('r_1', 1, 4, 1, 0, 'B', 'introduce', 'new', ?, ?)",
        (ms + 9 * day, ms + 9 * day),
    )
    db.commit()
    db.close()


async def test_an_upgrade_places_existing_customers_from_their_history(config: Config) -> None:
    _old_store(config.store_path)
    store = await SQLiteStore.open(config.store_path)
    try:
        assert await store.schema_version() >= 11
        before = await store.stage_counts()
        assert before.pending == 4 and sum(before.at.values()) == 0
        # a lookup does not wait for the backfill
        assert await stages.stage_of(store, 2) is Stage.TRUST
        assert await stages.refresh_pending(store, 2) == 2  # the scheduler's sweep, a batch a tick
        assert await stages.refresh_pending(store, 2) == 1
        assert await stages.refresh_pending(store, 2) == 0
        counts = await store.stage_counts()
        assert counts.pending == 0 and counts.unstaged == 1  # Cy: only a testimonial
        assert {k: v for k, v in counts.at.items() if v} == {"trust": 1, "refer": 1, "know": 1}
        assert [(m.stage, m.at.date().isoformat()) for m in await store.customer_road(1)] == [
            (Stage.BUY, "2026-01-10"),
            (Stage.REPEAT, "2026-01-15"),
            (Stage.REFER, "2026-01-19"),
        ]
    finally:
        await store.close()
    # opening again does not start over
    store = await SQLiteStore.open(config.store_path)
    try:
        assert (await store.stage_counts()).pending == 0
    finally:
        await store.close()


async def test_the_scheduler_runs_the_backfill(loop: Loop) -> None:
    store = loop.services.store
    await stages.refresh(store, [])  # nothing to do, nothing done
    for n in range(3):
        event = EventIn.model_validate(
            {
                "id": f"o{n}",
                "type": "purchase.completed",
                "occurred_at": "2026-02-01T10:00:00Z",
                "customer": {"email": f"c{n}@example.com"},
            }
        )
        await store.record_event(event, loop.clock.now())
    await loop.services.store.settle_events(  # as if processed before the upgrade
        [(seq, None, []) for seq in range(1, 4)], loop.clock.now()
    )
    assert (await store.stage_counts()).unstaged == 3
    await _mark_pending(store)
    assert (await store.stage_counts()).pending == 3
    await loop.run()
    counts = await store.stage_counts()
    assert (counts.pending, counts.at["buy"]) == (0, 3)


async def _mark_pending(store: Any) -> None:
    """As migration 11 leaves an upgraded store: every customer's stage yet to work out."""
    plant(store, "INSERT INTO stage_pending SELECT id FROM customers")


# cost at scale ---------------------------------------------------------------------------------


@pytest.mark.sqlite_only(
    "SQLite's EXPLAIN QUERY PLAN on SQLite's columns (epoch ms); PostgreSQL's indexes are "
    "held to SQLite's by tests/test_pg_schema.py, and its planner scans tables this small"
)
async def test_report_queries_use_their_indexes(store: SQLiteStore) -> None:
    counts = " ".join(
        await store.explain("SELECT stage, count(*) FROM customer_stages GROUP BY stage")
    )
    assert "USING COVERING INDEX customer_stages_stage" in counts, counts
    moves = " ".join(
        await store.explain("SELECT count(*) FROM stage_moves WHERE at >= ? AND at < ?", (0, 1))
    )
    assert "USING COVERING INDEX stage_moves_at" in moves, moves
    history = " ".join(
        await store.explain(
            "SELECT seq FROM events WHERE customer_id IN (?, ?) AND type IN (?, ?)",
            (1, 2, "a", "b"),
        )
    )
    assert "USING INDEX events_customer" in history, history


# the command ----------------------------------------------------------------------------------


async def _seed(config: Config) -> None:
    store = await SQLiteStore.open(config.store_path)
    try:
        for n, (email, type_) in enumerate(
            [(ANN, "purchase.completed"), (ANN, "purchase.completed"), (BO, "trial.started")]
        ):
            event = EventIn.model_validate(
                {
                    "id": f"s{n}",
                    "type": type_,
                    "occurred_at": f"2026-02-0{n + 1}T10:00:00Z",
                    "customer": {"email": email},
                }
            )
            await store.record_event(event, datetime(2026, 2, 5, tzinfo=UTC))
        await stages.refresh(store, [1, 2])
    finally:
        await store.close()


def test_vouch_report_stages(
    config: Config, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(_seed(config))
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = str(config.root / "config.toml")
    assert main(["report", "stages", "--config", path, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["now"]["repeat"] == 1 and data["now"]["try"] == 1 and data["unstaged"] == 0
    assert len(data["months"]) == 12 and data["stages"][0] == "know"
    assert main(["report", "stages", "--config", path, "--months", "2"]) == 0
    text = capsys.readouterr().out
    assert "Where customers stand now" in text
    assert re.search(r"^repeat\s+1$", text, re.M) and re.search(r"^try\s+1$", text, re.M)
    assert main(["report", "stages", "--config", path, "--format", "csv"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0] == "month,know,like,trust,try,buy,repeat,refer,total,none"
    assert rows[-1] == "now,0,0,0,1,0,1,0,2,0"
    assert main(["report", "stages", "--config", path, "--months", "0"]) == 2
