"""Partners end to end: a business that refers clients through the same form and follow-up as
an advocate, clients the owner gives back, the balance, and the partner-joined moment; fake
clock, real app, real store, real templates, real SMTP server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from loop import AUTH, Loop, smtp_changes, text_of

from daemon.config import Config
from daemon.store import SQLiteStore
from daemon.store.rows import NewPartner

from helpers import ENV, query
from smtp_server import SmtpServer

OWNER = "owner@harborlane.example"
DANA = "dana@physio.example"
PHYSIO = {
    "name": "Harbor Physio",
    "email": DANA,
    "trade": "physiotherapy",
    "wants": "people recovering from an injury",
    "contact": "Dana Lee",
}


@pytest.fixture
def loop_config(make_config: Callable[..., Config], smtp_server: SmtpServer) -> Config:
    referrals = {"incentive": {"text": "For every friend who becomes a client, a £50 voucher."}}
    return make_config({**smtp_changes(smtp_server), "referrals": referrals})


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


async def add_partner(loop: Loop, **changes: Any) -> dict[str, Any]:
    answer = await loop.client.post("/v1/partners", json={**PHYSIO, **changes}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    partner: dict[str, Any] = answer.json()["partner"]
    return partner


async def introduce(loop: Loop, code: str, name: str, email: str) -> httpx.Response:
    answer = await loop.client.post(
        f"/r/{code}/introduce",
        data={
            "friend_name": name,
            "friend_email": email,
            "need": "Back pain after a fall; wants a step-free bathroom",
            "expects_contact": "yes",
        },
    )
    assert answer.status_code == 200, answer.text
    return answer


async def referral_id(loop: Loop) -> str:
    (owner,) = to(loop.new_mail(), OWNER)
    found = re.search(r"vouch referral (r_[A-Za-z0-9_-]+)", text_of(owner))
    assert found is not None
    return found.group(1)


async def status(loop: Loop, rid: str, **body: Any) -> None:
    answer = await loop.client.post(f"/v1/referrals/{rid}/status", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text


@pytest.fixture(autouse=True)
def secrets_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


async def cli(*args: str, loop: Loop) -> int:
    """`vouch ARGS --config ...` against the running test's store, as the owner would type it."""
    from daemon.cli import main

    code: int = await asyncio.to_thread(main, [*args, "--config", str(loop.services.config.path)])
    return code


async def test_a_partner_refers_through_the_form_is_kept_informed_and_thanked(loop: Loop) -> None:
    partner = await add_partner(loop)
    assert partner["id"].startswith("p_") and partner["reward"] is False
    code = partner["code"]
    assert partner["introduce_url"] == f"http://vouch.test/r/{code}/introduce"
    landing = await loop.client.get(f"/r/{code}")
    assert "Dana Lee at Harbor Physio thinks you would like" in landing.text
    form = await loop.client.get(f"/r/{code}/introduce")
    assert "Thank you for thinking of us, Dana." in form.text
    assert "£50 voucher" not in form.text  # no reward for this partner: none offered
    await introduce(loop, code, "Alex Morgan", "alex@example.net")
    await loop.run()
    mail = loop.new_mail()
    (owner,) = to(mail, OWNER)
    assert str(owner["Subject"]).startswith("New referral from Dana Lee at Harbor Physio")
    (thanks,) = to(mail, DANA)
    assert thanks["Subject"] == "Thank you for introducing Alex Morgan"
    assert text_of(thanks).startswith("Hi Dana,")
    (friend,) = to(mail, "alex@example.net")
    assert "Dana Lee at Harbor Physio" in text_of(friend)
    found = re.search(r"vouch referral (r_[A-Za-z0-9_-]+)", text_of(owner))
    assert found is not None
    rid = found.group(1)

    await status(loop, rid, status="contacted", note="We spoke this morning.")
    await loop.run()
    (update,) = to(loop.new_mail(), DANA)  # progress reaches the partner's address
    assert "we have been in touch with alex" in text_of(update).lower()
    assert "We spoke this morning." in text_of(update)

    await status(loop, rid, status="won", value=4200, note="Alex loves the new bathroom.")
    await loop.run()
    (thanked,) = loop.new_mail()
    assert thanked["To"].addresses[0].addr_spec == DANA
    assert thanked["Subject"] == "Thank you: Alex Morgan is now a client"
    assert "Alex loves the new bathroom." in text_of(thanked)
    assert "We will keep thinking of Harbor Physio" in text_of(thanked)
    store = loop.services.store
    advocate = await store.advocate_by_code(code)
    assert advocate is not None and await store.rewards_of(advocate.id) == []
    assert await store.asks_of(advocate.customer_id) == []  # a partner is not asked again
    await loop.travel(timedelta(days=3), step=timedelta(hours=6))
    assert loop.new_mail() == []  # nothing twice


async def test_a_partner_with_a_reward_is_offered_it_and_gets_it(loop: Loop) -> None:
    partner = await add_partner(loop)
    changed = await loop.client.patch(
        f"/v1/partners/{partner['id']}", json={"reward": True}, headers=AUTH
    )
    assert changed.status_code == 200 and changed.json()["partner"]["reward"] is True
    assert changed.json()["partner"]["contact"] == "Dana Lee"  # what was left out stays
    form = await loop.client.get(f"/r/{partner['code']}/introduce")
    assert "£50 voucher" in form.text
    await introduce(loop, partner["code"], "Alex Morgan", "alex@example.net")
    await loop.run()
    rid = await referral_id(loop)
    await status(loop, rid, status="won", value=900)
    await loop.run()
    (reward,) = to(loop.new_mail(), DANA)
    assert re.search(r"THANKS-[0-9A-F]{8}", text_of(reward))


async def test_partner_and_customer_codes_share_one_namespace(loop: Loop) -> None:
    store = loop.services.store
    customer = await store.ensure_customer("ann@example.com", loop.clock.now())
    advocate = await store.ensure_advocate(customer.id, loop.clock.now())
    partner = await add_partner(loop)
    assert partner["code"] != advocate.code
    assert "Dana Lee at Harbor Physio" in (await loop.client.get(f"/r/{partner['code']}")).text
    assert "Harbor Physio" not in (await loop.client.get(f"/r/{advocate.code}")).text
    found = await store.partners_matching(advocate.code)
    assert found == []  # a customer's code is never taken for a partner's


async def test_referrals_given_to_a_partner_appear_in_the_balance(loop: Loop) -> None:
    partner = await add_partner(loop)
    pid = partner["id"]
    for name in ("Alex", "Bea"):
        await introduce(loop, partner["code"], name, f"{name.lower()}@example.net")
    await loop.run()
    store = loop.services.store
    first = next(r[0] for r in query(store, "SELECT public_id FROM referrals ORDER BY id"))
    await status(loop, first, status="won", value=1500)
    given = []
    for body in (
        {"client_name": "Cy Green", "client_email": "cy@example.org", "note": "knee surgery"},
        {"client_email": "di@example.org"},
    ):
        answer = await loop.client.post(f"/v1/partners/{pid}/given", json=body, headers=AUTH)
        assert answer.status_code == 201, answer.text
        given.append(answer.json()["given"]["id"])
    assert await cli("partner", "gave", "Harbor Physio", "--client", "Ed Fox", loop=loop) == 0
    outcome = f"/v1/partners/{pid}/given/{given[0]}/outcome"
    won = await loop.client.post(outcome, json={"status": "won"}, headers=AUTH)
    assert won.status_code == 200 and won.json()["given"]["status"] == "won"
    assert (await loop.client.post(outcome, json={"status": "won"}, headers=AUTH)).is_success
    refused = await loop.client.post(outcome, json={"status": "lost"}, headers=AUTH)
    assert refused.status_code == 409 and "cannot become lost" in refused.json()["detail"]
    assert await cli("partner", "outcome", given[1], "lost", loop=loop) == 0

    report = (await loop.client.get("/v1/reports/partners", headers=AUTH)).json()
    assert report["partners"] == [
        {
            "id": pid,
            "partner": "Harbor Physio",
            "contact": "Dana Lee",
            "email": DANA,
            "received": 2,
            "received_won": 1,
            "value_won": 1500.0,
            "given": 3,
            "given_won": 1,
            "balance": -1,
        }
    ]
    shown = (await loop.client.get(f"/v1/partners/{pid}", headers=AUTH)).json()
    assert [r["status"] for r in shown["received"]] == ["won", "new"]
    assert [(g["client"]["name"], g["status"]) for g in shown["given"]] == [
        ("Cy Green", "won"),
        (None, "lost"),
        ("Ed Fox", "given"),
    ]
    assert (await loop.client.get("/v1/reports/partners")).status_code == 401
    sources = (await loop.client.get("/v1/referrals", headers=AUTH)).json()
    assert sources["advocates"] == []  # the customer sources report is about customers

    forgotten = await loop.client.delete("/v1/customers/cy@example.org", headers=AUTH)
    assert forgotten.json()["changed"]["given_to_partners"] == 1
    shown = (await loop.client.get(f"/v1/partners/{pid}", headers=AUTH)).json()
    assert shown["given"][0]["client"] == {"name": None, "email": None}
    assert shown["given"][0]["status"] == "won"  # the fact stays, the person goes


async def test_the_balance_report_from_the_cli(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_partner(loop)
    assert await cli("partner", "gave", DANA, "--client", "Cy <cy@example.org>", loop=loop) == 0
    gave = capsys.readouterr().out
    assert re.match(r"g_\S+: Cy <cy@example.org> given to Harbor Physio", gave)
    assert await cli("report", "partners", loop=loop) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("Harbor Physio"))
    assert row.split()[2:] == ["0", "0", "£0.00", "1", "0", "-1"]
    assert await cli("report", "partners", "--format", "csv", loop=loop) == 0
    assert capsys.readouterr().out.splitlines()[1].endswith(",0,0,0.0,1,0,-1")


async def joined(loop: Loop, event_id: str, when: datetime, **data: str) -> httpx.Response:
    body = {
        "id": event_id,
        "type": "partner.joined_organization",
        "occurred_at": when.isoformat(),
        "data": data,
    }
    return await loop.client.post("/v1/events", json=body, headers=AUTH)


async def partner_asks(loop: Loop) -> list[tuple[str, str, str | None]]:
    customer = await loop.services.store.customer_by_email(DANA)
    assert customer is not None
    return [(a.moment, a.state, a.reason) for a in await loop.services.store.asks_of(customer.id)]


async def test_the_partner_joined_moment_sends_one_note_within_the_cool_down(loop: Loop) -> None:
    partner = await add_partner(loop)
    start = loop.clock.now()
    answer = await joined(loop, "j-1", start, partner=partner["id"], organization="Harbour Health")
    assert answer.status_code == 202 and "warnings" not in answer.json()
    await loop.travel(timedelta(days=2), step=timedelta(hours=2))
    (note,) = loop.new_mail()
    assert note["To"].addresses[0].addr_spec == DANA
    assert note["Subject"] == "Congratulations on Harbour Health"
    body = text_of(note)
    assert body.startswith("Hi Dana,") and "joined Harbour Health" in body
    assert f"/r/{partner['code']}/introduce" in body
    assert note["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    loop.clock.advance(timedelta(days=10))  # a second move inside the cool-down: nothing
    assert (
        await joined(loop, "j-2", loop.clock.now(), email=DANA, organization="Bay Clinic")
    ).is_success
    await loop.travel(timedelta(days=2), step=timedelta(hours=6))
    assert loop.new_mail() == []
    (first, second) = await partner_asks(loop)
    assert first == ("partner_joined", "sent", None)
    assert second[:2] == ("partner_joined", "skipped")
    assert second[2] is not None and second[2].startswith("cool-down: asked on 2026-03-03")

    loop.clock.advance(timedelta(days=60))  # after the cool-down: a new note may go
    await joined(loop, "j-3", loop.clock.now(), partner=partner["code"], organization="Bay Clinic")
    await loop.travel(timedelta(days=4), step=timedelta(hours=2))  # over a weekend: Monday
    (later,) = loop.new_mail()
    assert later["Subject"] == "Congratulations on Bay Clinic"
    await joined(loop, "j-3", loop.clock.now(), partner=partner["code"], organization="Bay Clinic")
    await loop.travel(timedelta(days=2), step=timedelta(hours=2))
    assert loop.new_mail() == []  # the same event again: one note


async def test_the_partner_joined_event_is_checked(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    now = loop.clock.now()
    missing = await joined(loop, "j-bad", now, partner="p_x")
    assert missing.status_code == 422
    assert missing.json()["problems"] == [
        {"field": "data", "message": "organization: the organization's name, 1-200 characters"}
    ]
    nobody = await joined(loop, "j-nobody", now, organization="Harbour Health")
    assert nobody.status_code == 422
    assert nobody.json()["detail"] == (
        "data: partner (the partner's id or code) or email is required"
    )
    by_hand = ["event", "partner.joined_organization", "--data", "partner=p_x"]
    assert await cli(*by_hand, loop=loop) == 2
    assert (
        capsys.readouterr().err == "data: organization: the organization's name, 1-200 characters\n"
    )
    unknown = await joined(loop, "j-unknown", now, partner="p_nobody", organization="Harbour")
    assert unknown.status_code == 202  # recorded; no partner, so nothing is sent
    await loop.travel(timedelta(days=2), step=timedelta(hours=6))
    assert loop.new_mail() == []


async def test_api_errors_say_what_is_wrong(loop: Loop) -> None:
    bad = await loop.client.post(
        "/v1/partners", json={**PHYSIO, "email": "dana@", "trade": " "}, headers=AUTH
    )
    assert bad.status_code == 422
    fields = {p["field"]: p["message"] for p in bad.json()["problems"]}
    assert set(fields) == {"email", "trade"} and fields["trade"] == "must not be empty"
    partner = await add_partner(loop)
    again = await loop.client.post("/v1/partners", json=PHYSIO, headers=AUTH)
    assert again.status_code == 409
    assert again.json()["detail"] == f"{DANA} is already a partner: Harbor Physio ({partner['id']})"
    unknown = await loop.client.get("/v1/partners/p_nobody", headers=AUTH)
    assert unknown.status_code == 404 and unknown.json()["error"] == "no partner 'p_nobody'"
    by_name = await loop.client.get("/v1/partners/Harbor Physio", headers=AUTH)
    assert by_name.status_code == 404  # the API names partners by public id only
    given = await loop.client.post(
        "/v1/partners/p_nobody/given", json={"client_name": "Cy"}, headers=AUTH
    )
    assert given.status_code == 404
    empty = await loop.client.post(f"/v1/partners/{partner['id']}/given", json={}, headers=AUTH)
    assert empty.status_code == 422
    assert "give the client's name, email address or both" in empty.json()["detail"]
    bad_client = await loop.client.post(
        f"/v1/partners/{partner['id']}/given", json={"client_email": "cy@"}, headers=AUTH
    )
    assert bad_client.status_code == 422
    assert bad_client.json()["problems"][0]["field"] == "client_email"
    listed = (await loop.client.get("/v1/partners", headers=AUTH)).json()["partners"]
    assert [p["id"] for p in listed] == [partner["id"]]
    assert (await loop.client.get("/v1/partners")).status_code == 401


async def test_cli_manages_partners_with_clear_errors(
    loop: Loop, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ["partner", "add", "Harbor Physio", "--trade", "physiotherapy", "--wants", "injuries"]
    assert await cli(*add, "--email", "dana@", loop=loop) == 2
    assert capsys.readouterr().err.startswith("--email: ")
    assert await cli(*add, "--email", DANA, "--contact", "Dana Lee", loop=loop) == 0
    card = capsys.readouterr().out
    assert card.startswith("Harbor Physio (p_") and "reward:  none" in card
    assert "link:    http://vouch.test/r/" in card
    assert await cli(*add, "--email", DANA, loop=loop) == 1
    assert "is already a partner" in capsys.readouterr().err

    assert await cli("partner", "show", "nobody", loop=loop) == 1
    assert "no partner 'nobody'" in capsys.readouterr().err
    assert await cli("partner", "gave", "nobody", "--client", "Cy", loop=loop) == 1
    assert "no partner 'nobody'" in capsys.readouterr().err
    gave = ["partner", "gave", "harbor physio", "--client", "Bob <bob@>"]
    assert await cli(*gave, loop=loop) == 2
    assert "--client: 'bob@' is not an email address" in capsys.readouterr().err
    assert await cli("partner", "outcome", "g_nobody", "won", loop=loop) == 1
    assert "no referral 'g_nobody' given to a partner" in capsys.readouterr().err

    received = ["partner", "received", DANA, "--client", "Fay <fay@example.net>"]
    assert await cli(*received, "--note", "a new kitchen", "--expects-contact", loop=loop) == 0
    assert "(grade A); the daemon thanks the partner" in capsys.readouterr().out
    assert await cli("partner", "change", DANA, "--reward", "--wants", "athletes", loop=loop) == 0
    assert "reward:  yes" in capsys.readouterr().out
    assert await cli("partner", "list", loop=loop) == 0
    assert (
        "Harbor Physio  <dana@physio.example>  physiotherapy  (reward)" in capsys.readouterr().out
    )
    assert await cli("partner", "show", "Harbor Physio", loop=loop) == 0
    shown = capsys.readouterr().out
    assert "wants:   athletes" in shown and "Received (1):" in shown and "Fay" in shown

    await loop.run()  # the daemon runs the follow-up of what the CLI recorded
    mail = loop.new_mail()
    assert len(to(mail, OWNER)) == 1 and len(to(mail, "fay@example.net")) == 1
    assert to(mail, DANA)[0]["Subject"] == "Thank you for introducing Fay"


async def test_a_store_at_version_4_gains_partners(tmp_path: Any) -> None:
    import aiosqlite

    from daemon.store.migrations import MIGRATIONS
    from daemon.store.sqlite import _statements

    path = tmp_path / "old.sqlite3"
    async with aiosqlite.connect(path) as db:
        await db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT)")
        for version, name, sql in MIGRATIONS:
            if version <= 4:
                for statement in _statements(sql):
                    await db.execute(statement)
                await db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, name))
        await db.execute(
            "INSERT INTO customers (email, created_at, updated_at, public_id) "
            "VALUES ('ann@example.com', 0, 0, 'x')"
        )
        await db.commit()
    store = await SQLiteStore.open(path)
    try:
        assert await store.schema_version() == MIGRATIONS[-1][0]
        new = NewPartner("ANN@example.com", "Ann's Studio", "interior design", "new homeowners")
        partner = await store.add_partner(new, datetime(2026, 3, 2, tzinfo=UTC))
        assert partner is not None and partner.email == "ann@example.com"
        assert partner.contact is None  # the customer's row is kept, name and all
    finally:
        await store.close()
