"""The referral engine end to end: moments → asks (with materials) → introductions →
follow-up → rewards → sources; fake clock, real app, real store, real SMTP server."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from loop import AUTH, Loop, path_of, smtp_changes, text_of

from daemon.config import Config
from daemon.engine import digest
from daemon.engine.digest import Period

from helpers import query
from smtp_server import SmtpServer

OWNER = "owner@harborlane.example"
ANN = "ann@example.com"


@pytest.fixture
def loop_config(make_config: Callable[..., Config], smtp_server: SmtpServer) -> Config:
    referrals = {
        "materials": [
            {"file": "materials/brochure.pdf", "name": "Harbor Lane brochure.pdf"},
            {"file": "materials/harbor-lane.vcf"},
        ],
        "links": [{"title": "Recent projects", "url": "https://harborlane.example/projects"}],
        "incentive": {
            "text": "For every friend who becomes a client, a £50 voucher or £50 to charity.",
            "choices": ["a £50 voucher", "£50 to the Harbour Food Bank"],
        },
        "reward": {
            "kind": "choice",
            "voucher_choices": ["a £50 voucher"],
            "description": "a £50 voucher",
        },
    }
    return make_config({**smtp_changes(smtp_server), "referrals": referrals})


def to(messages: list[EmailMessage], address: str) -> list[EmailMessage]:
    return [m for m in messages if m["To"].addresses[0].addr_spec == address]


async def score(loop: Loop, email: str, value: int, when: str = "2026-03-02T09:00:00Z") -> None:
    answer = await loop.client.post(
        "/v1/responses",
        json={
            "customer": {"email": email},
            "survey": "post_purchase",
            "score": value,
            "answered_at": when,
        },
        headers=AUTH,
    )
    assert answer.status_code == 202, answer.text


async def asks(loop: Loop, email: str = ANN) -> list[tuple[str, str, str | None]]:
    customer = await loop.services.store.customer_by_email(email)
    assert customer is not None
    return [(a.moment, a.state, a.reason) for a in await loop.services.store.asks_of(customer.id)]


async def get_ask(loop: Loop) -> EmailMessage:
    """Travel until the referral ask arrives and return it."""
    for _ in range(6):
        await loop.travel(timedelta(hours=12), step=timedelta(hours=1))
        found = [m for m in loop.new_mail() if m.get_content_type() == "multipart/mixed"]
        if found:
            (ask,) = found
            return ask
    raise AssertionError("no referral ask arrived")


def codes(ask: EmailMessage) -> str:
    found = re.search(r"/r/([A-Za-z0-9_-]+)", text_of(ask))  # codes may end in - or _
    assert found is not None
    return found.group(1)


async def introduce(loop: Loop, code: str, **form: str) -> httpx.Response:
    return await loop.client.post(f"/r/{code}/introduce", data=form)


async def promoter_with_ask(loop: Loop, email: str = ANN) -> str:
    await loop.event("purchase.completed", email, "2026-02-20T10:00:00Z", name="Ann Example")
    await score(loop, email, 10)
    await loop.event("project.completed", email, "2026-03-02T09:00:00Z", name="Ann Example")
    return codes(await get_ask(loop))


async def test_promoter_project_completed_gets_the_ask_with_materials(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    await score(loop, ANN, 10)
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z", name="Ann Example")
    await loop.run()
    mixed = [m for m in loop.new_mail() if m.get_content_type() == "multipart/mixed"]
    assert mixed == []  # a day later, not at once
    ask = await get_ask(loop)
    assert ask["To"].addresses[0].addr_spec == ANN
    assert ask["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    attachments = {a.get_filename(): a.get_content() for a in ask.iter_attachments()}
    assert attachments["Harbor Lane brochure.pdf"].startswith(b"%PDF")
    assert "BEGIN:VCARD" in str(attachments["harbor-lane.vcf"])
    body = text_of(ask)
    assert "£50 voucher" in body and "Recent projects" in body
    code = codes(ask)
    landing = await loop.client.get(f"/r/{code}")
    assert landing.status_code == 200 and "Ann thinks you would like" in landing.text
    form = await loop.client.get(f"/r/{code}/introduce")
    assert form.status_code == 200 and "Introduce a friend" in form.text
    assert await asks(loop) == [("project_completed", "sent", None)]


async def test_detractor_is_never_asked_and_the_reason_is_kept(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z")
    await score(loop, ANN, 4)
    await loop.run()  # the owner alert and the complaint
    loop.new_mail()
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z")
    await loop.travel(timedelta(days=3), step=timedelta(hours=6))
    assert [m for m in loop.new_mail() if m.get_content_type() == "multipart/mixed"] == []
    ((moment, state, reason),) = await asks(loop)
    assert (moment, state) == ("project_completed", "skipped")
    assert reason == "a complaint is open: no asks until the owner resolves it"


async def test_a_passive_is_not_asked(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z")
    await score(loop, ANN, 8)
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z")
    await loop.run()
    ((_, state, reason),) = await asks(loop)
    assert state == "skipped" and reason is not None
    assert reason.startswith("latest score 8 (passive) on 2026-03-02: only promoters are asked")


async def test_no_recent_score_survey_first_then_the_ask(loop: Loop) -> None:
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z", name="Ann Example")
    await loop.run()
    ((_, state, reason),) = await asks(loop)
    assert state == "waiting" and reason is not None and "no score" in reason
    await loop.travel(timedelta(days=1, hours=2))
    (survey,) = loop.new_mail()  # the project-completion survey goes first
    links = {int(s): u for s, u in re.findall(r"^(\d+): (http\S+)$", text_of(survey), re.M)}
    await loop.client.post(path_of(links[9]), data={"score": "9", "via": "form"})
    ask = await get_ask(loop)  # the moment was carried, not lost
    assert "Ann" in text_of(ask)
    assert (await asks(loop))[0][1] == "sent"


async def test_unsolicited_testimonial_is_a_moment(loop: Loop) -> None:
    await loop.event(
        "testimonial.received", ANN, "2026-03-02T09:00:00Z", name="Ann Example", id="t-1"
    )
    # the loop helper sends no data: post one with text and solicited: false
    body = {
        "id": "t-2",
        "type": "testimonial.received",
        "occurred_at": "2026-03-02T09:30:00Z",
        "customer": {"email": "bo@example.com", "name": "Bo Lee"},
        "data": {"text": "You saved our kitchen!", "source": "email", "solicited": False},
    }
    assert (await loop.client.post("/v1/events", json=body, headers=AUTH)).status_code == 202
    solicited = {**body, "id": "t-3", "customer": {"email": "cy@example.com"}}
    solicited["data"] = {"text": "Fine work.", "source": "review", "solicited": True}
    assert (await loop.client.post("/v1/events", json=solicited, headers=AUTH)).status_code == 202
    ask = await get_ask(loop)
    assert ask["To"].addresses[0].addr_spec == "bo@example.com"
    assert await asks(loop, "bo@example.com") == [("testimonial", "sent", None)]
    customer = await loop.services.store.customer_by_email("cy@example.com")
    assert customer is not None and await loop.services.store.asks_of(customer.id) == []


async def test_cool_down_and_yearly_cap(loop: Loop) -> None:
    code = await promoter_with_ask(loop)
    assert code
    for n, day in enumerate((10, 70, 140, 210, 280), start=2):
        body = {
            "id": f"praise-{n}",
            "type": "testimonial.received",
            "occurred_at": (datetime(2026, 3, 2, tzinfo=UTC) + timedelta(days=day)).isoformat(),
            "customer": {"email": ANN},
            "data": {"text": "Still delighted", "solicited": False},
        }
        loop.clock.advance(
            datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(days=day) - loop.clock.now()
        )
        await loop.client.post("/v1/events", json=body, headers=AUTH)
        await loop.travel(timedelta(days=2), step=timedelta(hours=6))
    decided = await asks(loop)
    assert [state for _, state, _ in decided] == [
        "sent",  # day 0: project completed
        "skipped",  # day 10: cool-down
        "sent",  # day 70
        "sent",  # day 140: the third in 12 months
        "skipped",  # day 210: yearly cap
        "skipped",  # day 280: yearly cap
    ]
    assert decided[1][2] is not None and decided[1][2].startswith("cool-down: asked on 2026-03-03")
    assert decided[4][2] == "yearly cap: 3 asks in the last 12 months"


async def test_introductions_graded_and_the_friend_contacted_only_with_consent(loop: Loop) -> None:
    code = await promoter_with_ask(loop)
    grade_a = await introduce(
        loop,
        code,
        friend_name="Dee Friend",
        friend_email="dee@example.com",
        need="A new bathroom",
        timing="before summer",
        relationship="neighbour",
        expects_contact="yes",
        advocate_introduces="yes",
        reward_choice="a £50 voucher",
    )
    assert grade_a.status_code == 200 and "Thank you, Ann!" in grade_a.text
    grade_b = await introduce(
        loop,
        code,
        friend_name="Eli",
        friend_email="eli@example.com",
        need="A loft",
        expects_contact="yes",
    )
    grade_c = await introduce(
        loop,
        code,
        friend_name="Fay",
        friend_email="fay@example.com",
        expects_contact="no",
    )
    assert grade_b.status_code == grade_c.status_code == 200
    await loop.run()
    mail = loop.new_mail()
    owner = to(mail, OWNER)
    grades = [re.search(r"Grade:\s+([ABC])", text_of(m)) for m in owner]
    assert sorted(g.group(1) for g in grades if g) == ["A", "B", "C"]
    assert len(to(mail, ANN)) == 3  # a thank-you for each
    assert len(to(mail, "dee@example.com")) == 1 and "Ann" in text_of(
        to(mail, "dee@example.com")[0]
    )
    assert len(to(mail, "eli@example.com")) == 1
    assert to(mail, "fay@example.com") == []  # never without consent


async def test_introduce_form_says_what_is_wrong(loop: Loop) -> None:
    code = await promoter_with_ask(loop)
    bad = await introduce(loop, code, friend_name="", friend_email="not-an-address")
    assert bad.status_code == 400
    assert (
        "please give your friend&#39;s name" in bad.text
        or "please give your friend's name" in bad.text
    )
    assert "this does not look like an email address" in bad.text
    assert (await loop.client.get("/r/no-such-code")).status_code == 404
    assert (await introduce(loop, "no-such-code", friend_name="x")).status_code == 404


async def test_rate_limit_per_advocate(loop: Loop) -> None:
    code = await promoter_with_ask(loop)
    for n in range(10):
        ok = await introduce(loop, code, friend_name=f"F{n}", friend_email=f"f{n}@example.com")
        assert ok.status_code == 200
    limited = await introduce(loop, code, friend_name="F11", friend_email="f11@example.com")
    assert limited.status_code == 429
    loop.clock.advance(timedelta(hours=1, seconds=1))
    assert (
        await introduce(loop, code, friend_name="G", friend_email="g@example.com")
    ).status_code == 200


async def referral_id(loop: Loop) -> str:
    owner = [m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == OWNER]
    found = re.search(r"vouch referral (r_[A-Za-z0-9_-]+)", text_of(owner[-1]))
    assert found is not None
    return found.group(1)


async def status(loop: Loop, rid: str, **body: Any) -> httpx.Response:
    return await loop.client.post(f"/v1/referrals/{rid}/status", json=body, headers=AUTH)


async def test_follow_up_contacted_won_reward_never_twice(loop: Loop) -> None:
    code = await promoter_with_ask(loop)
    await introduce(
        loop,
        code,
        friend_name="Dee Friend",
        friend_email="dee@example.com",
        need="Bathroom",
        expects_contact="yes",
    )
    await loop.run()
    rid = await referral_id(loop)
    answer = await status(loop, rid, status="contacted")
    assert answer.status_code == 200 and answer.json()["referral"]["status"] == "contacted"
    await loop.run()
    (note,) = to(loop.new_mail(), ANN)
    assert "we have been in touch with dee" in text_of(note).lower()
    await status(loop, rid, status="meeting")  # not shared by default
    await loop.run()
    assert to(loop.new_mail(), ANN) == []
    won = await status(loop, rid, status="won", value=12500)
    assert won.json()["referral"]["value"] == 12500
    await loop.run()
    (thanks,) = to(loop.new_mail(), ANN)
    reward_code = re.search(r"THANKS-[0-9A-F]{8}", text_of(thanks))
    assert reward_code is not None and "a £50 voucher" in text_of(thanks)
    again = await status(loop, rid, status="won", value=12500)  # the same news twice
    assert again.status_code == 200
    replayed = {  # the same news again, as an event
        "id": "replayed-win",
        "type": "referral.status_changed",
        "occurred_at": loop.clock.now().isoformat(),
        "data": {"referral": rid, "status": "won"},
    }
    assert (await loop.client.post("/v1/events", json=replayed, headers=AUTH)).status_code == 202
    await loop.run()
    assert to(loop.new_mail(), ANN) == []
    assert (await status(loop, rid, status="lost")).status_code == 409
    # the advocate may be asked again after the win (subject to the cool-down)
    decided = await asks(loop)
    assert decided[-1][0] == "referral_won"


async def test_the_reward_is_the_one_the_advocate_chose(loop: Loop) -> None:
    """Offered a voucher or a donation: the advocate who chose the donation is thanked with the
    donation and never sent a voucher code; the one who chose the voucher gets a code."""
    code = await promoter_with_ask(loop)
    for name, choice in (("Dee", "£50 to the Harbour Food Bank"), ("Eli", "a £50 voucher")):
        chose = await introduce(
            loop, code, friend_name=name, friend_email=f"{name.lower()}@example.com",
            reward_choice=choice,
        )  # fmt: skip
        assert chose.status_code == 200
    await loop.run()
    loop.new_mail()
    for ref in await _referrals(loop):
        assert (await status(loop, ref.public_id, status="won", value=100)).status_code == 200
    await loop.run()
    by_friend = {
        "Dee" if "Dee" in str(m["Subject"]) else "Eli": text_of(m)
        for m in to(loop.new_mail(), ANN)
        if "is now a client" in str(m["Subject"])
    }
    assert "£50 to the Harbour Food Bank" in by_friend["Dee"]
    assert "THANKS-" not in by_friend["Dee"] and "code" not in by_friend["Dee"].lower()
    assert re.search(r"Your code: THANKS-[0-9A-F]{8}", by_friend["Eli"])
    advocate = await loop.services.store.advocate_by_code(code)
    assert advocate is not None
    rewards = await loop.services.store.rewards_of(advocate.id)
    assert sorted((r.description, r.code is None) for r in rewards) == [
        ("a £50 voucher", False),
        ("£50 to the Harbour Food Bank", True),
    ]
    # the owner's digest of the day says the donation is theirs to give (it has no code)
    now = loop.clock.now()
    day = Period(now - timedelta(days=1), now + timedelta(seconds=1), now - timedelta(days=2))
    facts = await loop.services.store.digest_facts(day.start, day.end, day.previous_start)
    context = digest.build(facts, day, "daily", "https://vouch.example/admin")
    assert [(r["reward"], r["command"]) for r in context["rewards"]] == [
        ("£50 to the Harbour Food Bank", "")
    ]
    text = loop.services.renderer.render(
        "owner_digest", context, to_email="owner@example.com", message_id="<d@example.com>"
    ).text
    assert "£50 to the Harbour Food Bank for Ann" in text and "waiting for you to give it" in text


async def test_reward_from_the_owners_pool(loop: Loop, make_config: Any, tmp_path: Any) -> None:
    from daemon.referrals.follow_up import change_status

    services = loop.services
    config = services.config
    reward = config.settings.referrals.reward.model_copy(update={"kind": "pool"})
    referrals_settings = config.settings.referrals.model_copy(update={"reward": reward})
    settings = config.settings.model_copy(update={"referrals": referrals_settings})
    services.config = dataclasses.replace(config, settings=settings)
    store = services.store
    assert await store.load_reward_codes(["POOL-1", "POOL-2"], loop.clock.now(), "issued") == 2
    code = await promoter_with_ask(loop)
    for name in ("Dee", "Eli", "Fay"):
        await introduce(loop, code, friend_name=name, friend_email=f"{name.lower()}@example.com")
    await loop.run()
    loop.new_mail()
    advocate = await store.advocate_by_code(code)
    assert advocate is not None
    rows = [r for r in await store.referral_facts()]
    assert len(rows) == 3
    found = [await store.referral(r.public_id) for r in await _referrals(loop)]
    for referral in found:
        assert referral is not None
        await change_status(services, referral, "won", value=100)
    rewards = await store.rewards_of(advocate.id)
    assert sorted(((r.code or ""), r.state) for r in rewards) == [
        ("", "awaiting_code"),
        ("POOL-1", "issued"),
        ("POOL-2", "issued"),
    ]
    assert await store.load_reward_codes(["POOL-2", "POOL-3"], loop.clock.now(), "issued") == 1
    rewards = await store.rewards_of(advocate.id)
    assert sorted(r.code or "" for r in rewards) == ["POOL-1", "POOL-2", "POOL-3"]  # each once


async def _referrals(loop: Loop) -> list[Any]:
    store = loop.services.store
    rows = query(store, "SELECT public_id FROM referrals ORDER BY id")
    return [type("R", (), {"public_id": r[0]}) for r in rows]


async def test_self_referral_is_flagged_earns_nothing_and_sends_the_friend_nothing(
    loop: Loop,
) -> None:
    """The friend's address is the advocate's own (compared normalised): the introduce form
    refuses it with a message and records nothing; asked for on the landing page it is
    recorded, flagged, for the owner, and the address hears nothing about itself."""
    code = await promoter_with_ask(loop)
    await loop.event("purchase.completed", "bo@example.com", "2026-02-01T10:00:00Z")
    own = await introduce(
        loop, code, friend_name="Me Again", friend_email="Ann@EXAMPLE.com", expects_contact="yes"
    )
    assert own.status_code == 400 and "this is your own address" in own.text
    assert await _referrals(loop) == []
    landing = await loop.client.post(
        f"/r/{code}",
        data={"friend_name": "Ann", "friend_email": "ANN@example.com", "need": "A loft"},
    )
    assert landing.status_code == 200
    await introduce(loop, code, friend_name="Bo", friend_email="bo@example.com")
    await loop.travel(timedelta(days=1))
    mail = loop.new_mail()
    flags = [text_of(m) for m in to(mail, OWNER)]
    assert any("self-referral" in t for t in flags)
    assert any("already a customer" in t for t in flags)
    assert len(to(mail, ANN)) == 1  # the thanks for introducing Bo, nothing about herself
    store = loop.services.store
    assert query(store, "SELECT kind FROM outbox WHERE kind = 'friend_note'") == []
    for ref in await _referrals(loop):
        assert (await status(loop, ref.public_id, status="won")).status_code == 200
    await loop.run()
    advocate = await loop.services.store.advocate_by_code(code)
    assert advocate is not None and await loop.services.store.rewards_of(advocate.id) == []


async def test_landing_page_lets_the_friend_ask_for_contact(loop: Loop) -> None:
    code = await promoter_with_ask(loop)
    bad = await loop.client.post(
        f"/r/{code}", data={"friend_name": "Gus", "friend_email": "gus@example.com"}
    )
    assert bad.status_code == 400 and "what you have in mind" in bad.text
    ok = await loop.client.post(
        f"/r/{code}",
        data={"friend_name": "Gus", "friend_email": "gus@example.com", "need": "A new kitchen"},
    )
    assert ok.status_code == 200 and "Thank you, Gus" in ok.text
    await loop.run()
    mail = loop.new_mail()
    assert re.search(r"Grade:\s+B", text_of(to(mail, OWNER)[0]))
    assert len(to(mail, "gus@example.com")) == 1


async def test_sources_report_on_a_seeded_set(loop: Loop) -> None:
    from daemon.referrals.follow_up import change_status

    code_ann = await promoter_with_ask(loop)
    code_bo = await promoter_with_ask(loop, "bo@example.com")
    store, services = loop.services.store, loop.services
    made = [
        (code_ann, "d1@example.com", {"advocate_introduces": "yes"}, ("won", 1000.0)),
        (code_ann, "d2@example.com", {"expects_contact": "yes", "need": "x"}, ("won", 3000.0)),
        (code_ann, "d3@example.com", {}, ("lost", None)),
        (code_bo, "e1@example.com", {"expects_contact": "yes", "need": "y"}, ("contacted", None)),
    ]
    for code, email, extra, _ in made:
        await introduce(loop, code, friend_name="F", friend_email=email, **extra)
    for (_, _, _, (state, value)), ref in zip(made, await _referrals(loop), strict=True):
        referral = await store.referral(ref.public_id)
        assert referral is not None
        loop.clock.advance(timedelta(days=2))
        await change_status(services, referral, state, value=value)
    data = (await loop.client.get("/v1/referrals", headers=AUTH)).json()
    ann, bo = data["advocates"]
    assert ann == {
        "advocate": "Ann Example",
        "email": ANN,
        "referrals": 3,
        "by_grade": {"A": 1, "B": 1, "C": 1},
        "contacted": 0,
        "won": 2,
        "won_by_purchase": 0,  # both marked by the owner (tests/test_attribution.py: by a purchase)
        "value_won": 4000.0,
        "conversion": 0.667,
        "median_days_to_close": 3.0,
    }
    assert bo["referrals"] == 1 and bo["contacted"] == 1 and bo["won"] == 0
    assert [c["email"] for c in data["champions"]] == [ANN, "bo@example.com"]
    assert data["totals"] == {
        "referrals": 4,
        "won": 2,
        "won_by_purchase": 0,
        "value_won": 4000.0,
        "advocates": 2,
        "other_customers": 0,
    }
    assert (await loop.client.get("/v1/referrals")).status_code == 401


async def test_owner_moves_referrals_from_the_cli(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from daemon.cli import main

    from helpers import ENV

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    code = await promoter_with_ask(loop)
    await introduce(
        loop,
        code,
        friend_name="Dee",
        friend_email="dee@example.com",
        expects_contact="yes",
        need="Bathroom",
    )
    await loop.run()
    rid = await referral_id(loop)
    config = str(loop.services.config.path)
    assert await asyncio.to_thread(main, ["referral", rid, "contacted", "--config", config]) == 0
    assert (
        await asyncio.to_thread(
            main, ["referral", rid, "won", "--value", "900", "--config", config]
        )
        == 0
    )
    assert await asyncio.to_thread(main, ["referral", rid, "lost", "--config", config]) == 1
    assert "cannot become lost" in capsys.readouterr().err
    await loop.run()  # the daemon sends what the CLI recorded
    subjects = sorted(str(m["Subject"]) for m in to(loop.new_mail(), ANN))
    assert len(subjects) == 2
    assert await asyncio.to_thread(main, ["report", "referrals", "--config", config]) == 0
    out = capsys.readouterr().out
    assert "Ann Example" in out and "900.00" in out
    assert (
        await asyncio.to_thread(
            main, ["report", "referrals", "--format", "json", "--config", config]
        )
        == 0
    )
    assert '"value_won": 900.0' in capsys.readouterr().out
    codes_file = tmp_path / "codes.txt"
    codes_file.write_text("# voucher codes\nCODE-1\nCODE-2\n\nCODE-1\n")
    assert (
        await asyncio.to_thread(main, ["reward", "load", str(codes_file), "--config", config]) == 0
    )
    assert "2 new codes in the pool" in capsys.readouterr().out


async def replies(loop: Loop) -> list[tuple[str, str]]:
    store = loop.services.store
    rows = query(store, "SELECT verdict, explanation FROM replies ORDER BY id")
    return [(r[0], r[1]) for r in rows]


async def survey_email(loop: Loop, email: str = ANN) -> EmailMessage:
    await loop.event("purchase.completed", email, "2026-03-02T10:00:00Z", name="Ann Example")
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = loop.new_mail()
    return survey


async def reply(loop: Loop, to_message: EmailMessage, text: str, **extra: Any) -> dict[str, Any]:
    body = {
        "from": str(to_message["To"].addresses[0].addr_spec),
        "to": "hello@harborlane.example",
        "subject": "Re: " + str(to_message["Subject"]),
        "text": text,
        "in_reply_to": str(to_message["Message-ID"]),
        **extra,
    }
    answer = await loop.client.post("/v1/inbound", json=body, headers=AUTH)
    assert answer.status_code == 202, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def test_a_reply_of_praise_is_a_testimonial_and_a_moment(loop: Loop) -> None:
    survey = await survey_email(loop)
    quoted = (
        "\n\nOn Thu, 5 Mar 2026 at 10:00, Harbor Lane <hello@harborlane.example> wrote:\n"
        "> How likely…"
    )
    verdict = await reply(
        loop, survey, "You saved us! We couldn't be happier with the new kitchen." + quoted
    )
    assert verdict["verdict"] == "praise"
    assert verdict["explanation"].startswith("Taken as praise")
    assert "ask scheduled" in verdict["explanation"]
    ask = await get_ask(loop)
    assert ask["To"].addresses[0].addr_spec == ANN
    store = loop.services.store
    (testimonial,) = query(store, "SELECT text, source, solicited FROM testimonials")
    assert testimonial == ("You saved us! We couldn't be happier with the new kitchen.", "reply", 0)


async def outbox_kinds(loop: Loop, kind: str) -> list[tuple[str, str | None]]:
    store = loop.services.store
    rows = query(store, "SELECT state, last_error FROM outbox WHERE kind = ?", (kind,))
    return [(r[0], r[1]) for r in rows]


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("You saved us! We couldn't be happier with the new kitchen.", "praise"),
        ("When will you come back to fix the tap?", "other"),
    ],
)
async def test_any_reply_to_the_survey_counts_as_an_answer_for_its_reminder(
    loop: Loop, text: str, verdict: str
) -> None:
    survey = await survey_email(loop)
    assert (await reply(loop, survey, text))["verdict"] == verdict
    await loop.travel(timedelta(days=10), step=timedelta(hours=6))  # the reminder was due day 4
    assert [m["Subject"] for m in loop.new_mail() if "One click" in str(m["Subject"])] == []
    assert await outbox_kinds(loop, "reminder") == []


async def test_a_reply_after_the_reminder_was_queued_cancels_it(loop: Loop) -> None:
    survey = await survey_email(loop)
    loop.clock.advance(timedelta(days=4))
    await loop.scheduler.tick()  # the reminder is queued, not yet sent
    assert await outbox_kinds(loop, "reminder") == [("queued", None)]
    await reply(loop, survey, "You saved us! We couldn't be happier with the new kitchen.")
    await loop.travel(timedelta(days=2), step=timedelta(hours=6))
    assert [m["Subject"] for m in loop.new_mail() if "One click" in str(m["Subject"])] == []
    assert await outbox_kinds(loop, "reminder") == [
        ("cancelled", "the customer replied to the survey before the reminder went out")
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Thanks.",
        "The crew was nice but the invoice is wrong and nobody answers my calls.",
        "When will you come back to fix the tap?",
    ],
)
async def test_a_neutral_or_negative_reply_is_kept_for_the_owner(loop: Loop, text: str) -> None:
    survey = await survey_email(loop)
    verdict = await reply(loop, survey, text)
    assert verdict["verdict"] == "other"
    assert verdict["explanation"].startswith("Not taken as praise")
    await loop.travel(timedelta(days=3), step=timedelta(hours=6))
    assert [m for m in loop.new_mail() if m.get_content_type() == "multipart/mixed"] == []
    assert (await replies(loop))[0] == ("other", verdict["explanation"])


async def test_a_survey_reply_starting_with_a_score_is_the_answer(loop: Loop) -> None:
    survey = await survey_email(loop)
    verdict = await reply(loop, survey, "9 - great crew\n\n> How likely are you…")
    assert verdict == {
        "verdict": "score",
        "explanation": "starts with a score: recorded 9 as the answer",
    }
    store = loop.services.store
    rows = query(store, "SELECT score, segment, comment, source FROM responses")
    assert rows == [(9, "promoter", "great crew", "reply")]
    again = await reply(
        loop, survey, "9 - great crew\n\n> How likely are you…", message_id="<r1@x>"
    )
    assert again["verdict"] == "score"  # a different message, the same answer: still one response
    assert len(query(store, "SELECT id FROM responses")) == 1


async def test_unsubscribe_by_mail_and_unknown_senders(loop: Loop) -> None:
    survey = await survey_email(loop)
    verdict = await reply(loop, survey, "", subject="unsubscribe")
    assert verdict["verdict"] == "unsubscribe"
    assert await loop.services.store.suppressed([ANN]) == {ANN}
    stranger = await loop.client.post(
        "/v1/inbound",
        json={"from": "who@example.com", "subject": "Hi", "text": "You are wonderful people!"},
        headers=AUTH,
    )
    assert stranger.json()["verdict"] == "unmatched"
    assert (
        await loop.client.post("/v1/inbound", json={"text": "x"}, headers=AUTH)
    ).status_code == 422


async def test_replies_by_smtp_take_the_same_path(loop: Loop) -> None:
    import aiosmtplib

    from daemon.engine.replies import InboundMail
    from daemon.intake import inbound
    from daemon.intake.inbound_smtp import InboundListener

    survey = await survey_email(loop)

    async def handle(mail: InboundMail) -> None:
        await inbound.handle(loop.services, mail)

    async with InboundListener(handle, "127.0.0.1", 0) as listener:
        message = EmailMessage()
        message["From"] = ANN
        message["To"] = "hello@harborlane.example"
        message["Subject"] = "Re: " + str(survey["Subject"])
        message["In-Reply-To"] = str(survey["Message-ID"])
        message["Message-ID"] = "<reply-1@example.com>"
        message.set_content("10! Couldn't be happier.\n\nOn Thu, Harbor Lane wrote:\n> How likely")
        await aiosmtplib.send(message, hostname="127.0.0.1", port=listener.port)
    store = loop.services.store
    assert query(store, "SELECT score, comment, source FROM responses") == [
        (10, "Couldn't be happier.", "reply")
    ]
    assert (await replies(loop))[0][0] == "score"


async def test_the_owner_sees_why_a_customer_was_not_asked(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    await score(loop, ANN, 8)
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z", name="Ann Example")
    await loop.run()
    answer = await loop.client.get(f"/v1/customers/{ANN}", headers=AUTH)
    assert answer.status_code == 200
    story = answer.json()
    assert story["name"] == "Ann Example" and story["suppressed"] is None
    assert [r["score"] for r in story["responses"]] == [8]
    (ask,) = story["asks"]
    assert ask["state"] == "skipped" and "only promoters are asked" in ask["reason"]
    assert {e["type"] for e in story["events"]} == {"purchase.completed", "project.completed"}
    assert (
        await loop.client.get("/v1/customers/nobody@example.com", headers=AUTH)
    ).status_code == 404
    assert (await loop.client.get(f"/v1/customers/{ANN}")).status_code == 401


async def test_export_csv_in_pages(
    loop: Loop, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio
    import csv

    from daemon.cli import main
    from daemon.store import reports

    from helpers import ENV

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(reports, "PAGE", 2)  # several pages even on a small store
    code = await promoter_with_ask(loop)
    for n in range(3):
        await introduce(loop, code, friend_name=f"F{n}", friend_email=f"f{n}@example.com")
    await score(loop, "bo@example.com", 3, "2026-03-03T10:00:00Z")
    config = str(loop.services.config.path)
    out = tmp_path / "referrals.csv"
    args = ["export", "referrals", "--out", str(out), "--config", config]
    assert await asyncio.to_thread(main, args) == 0
    rows = list(csv.DictReader(out.read_text().splitlines()))
    assert [r["friend_name"] for r in rows] == ["F0", "F1", "F2"]
    assert all(r["advocate_email"] == ANN and r["id"].startswith("r_") for r in rows)
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["export", "responses", "--config", config]) == 0
    responses = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert sorted((r["email"], r["score"], r["segment"]) for r in responses) == [
        (ANN, "10", "promoter"),
        ("bo@example.com", "3", "detractor"),
    ]
    assert responses[0]["answered_at"].startswith("2026-03-02T09:00:00")
    assert await asyncio.to_thread(main, ["export", "customers", "--config", config]) == 0
    emails = {r["email"] for r in csv.DictReader(capsys.readouterr().out.splitlines())}
    assert {ANN, "bo@example.com"} <= emails


async def test_the_ask_links_to_the_education_page_from_the_owners_file(loop: Loop) -> None:
    await loop.event("purchase.completed", ANN, "2026-02-20T10:00:00Z", name="Ann Example")
    await score(loop, ANN, 10)
    await loop.event("project.completed", ANN, "2026-03-02T09:00:00Z", name="Ann Example")
    ask = await get_ask(loop)
    code = codes(ask)
    assert f"/r/{code}/learn" in text_of(ask)
    page = await loop.client.get(f"/r/{code}/learn")
    assert page.status_code == 200
    education = loop.services.config.education
    assert education is not None
    assert education.core_message in page.text.replace("&#39;", "'")
    assert "Our last builder never turned up." in page.text
    assert (await loop.client.get("/r/nobody/learn")).status_code == 404


def test_a_broken_education_file_fails_the_check(tmp_path: Any) -> None:
    from daemon.config import load_config
    from daemon.errors import ConfigError

    from helpers import ENV, write_business

    path = write_business(tmp_path)
    education = tmp_path / "templates" / "pages" / "referral_education.toml"
    education.write_text('ideal_client = ""\ncore_message = "We build."\nlisten_for = []\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, ENV)
    found = [str(p) for p in caught.value.problems]
    assert found[0].startswith("templates/pages/referral_education.toml: ideal_client: must be")
    assert any(p.startswith("templates/pages/referral_education.toml: listen_for:") for p in found)
    assert any("after_referral: required" in p for p in found)
