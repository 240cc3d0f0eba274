"""Review asks: a promoter (only a promoter) is emailed the owner's review sites some days after
their answer, within its own cool-down; the links go through Vouch's redirect, where a person's
click is counted and a mail scanner's is not (the survey links' rule); `vouch report reviews`
and the dashboard show asks and clicks per site and per month. Real app, real store, real SMTP,
fake clock; the store's calls on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from loop import AUTH, Loop, html_of, path_of, score_links, smtp_changes, text_of
from test_dashboard import login

from daemon.config import Config, load_config
from daemon.engine.clicks import Click
from daemon.errors import ConfigError
from daemon.mail.render import Renderer
from daemon.mail.tokens import review_token, survey_token, unsubscribe_token

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, query, stored_time, write_business
from smtp_server import SmtpServer

SITES = [
    {"name": "Google", "url": "https://g.page/r/harborlane/review"},
    {"name": "Houzz", "url": "https://houzz.example/pro/harborlane?a=1&b=2"},
]
REVIEWS: dict[str, Any] = {
    "reviews": {"sites": SITES, "ask": True, "ask_delay_days": 3, "ask_cool_down_days": 30}
}


@pytest.fixture
def loop_config(make_config: Callable[..., Config], loop_smtp: SmtpServer) -> Config:
    return make_config(merge(merge(REVIEWS, CONFIG_CHANGES), smtp_changes(loop_smtp)))


@pytest.fixture
def make_config(tmp_path: Any) -> Callable[..., Config]:
    def make(changes: dict[str, Any] | None = None) -> Config:
        path = write_business(tmp_path / "biz", changes)
        return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)

    return make


async def respond(loop: Loop, email: str, score: int, name: str = "Ann Example") -> None:
    """A known customer's answer, by the response webhook (the same rules as the survey page)."""
    await loop.event("purchase.completed", email, "2026-02-20T10:00:00Z", name=name)
    body = {"customer": {"email": email}, "survey": "post_purchase", "score": score}
    answer = await loop.client.post("/v1/responses", json=body, headers=AUTH)
    assert answer.status_code == 202, answer.text


def review_asks(loop: Loop, to: str | None = None) -> list[EmailMessage]:
    return [
        m
        for m in loop.new_mail()
        if "review" in text_of(m).lower() and (to is None or m["To"].addresses[0].addr_spec == to)
    ]


def review_links(message: EmailMessage) -> dict[str, str]:
    """The sites of a review ask's text part, each with its link, by name."""
    found = re.findall(r"^- (\w+) ?: (http\S+)$", text_of(message), flags=re.MULTILINE)
    return dict(found)


def state_of(loop: Loop, email: str) -> list[tuple[str, str | None]]:
    store = loop.services.store
    return [
        (str(r[0]), r[1])
        for r in query(
            store,
            "SELECT r.state, r.reason FROM review_asks r JOIN customers c ON c.id = r.customer_id "
            "WHERE c.email = ? ORDER BY r.id",
            (email,),
        )
    ]


async def test_a_promoter_answering_on_the_page_gets_a_review_ask_after_its_delay(
    loop: Loop,
) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.travel(timedelta(days=3, hours=2))  # the survey, Thursday 5 March
    (survey,) = loop.new_mail()
    score = path_of(score_links(survey)[9])
    assert (await loop.client.post(score, data={"score": "9", "via": "form"})).status_code == 200
    answered = loop.clock.now()

    await loop.travel(timedelta(days=2, hours=12))
    assert review_asks(loop) == []  # not before its delay
    await loop.travel(timedelta(days=2))
    (ask,) = review_asks(loop, "ann@example.com")
    store = loop.services.store
    ((sent_ms,),) = query(store, "SELECT sent_at FROM review_asks")
    sent = stored_time(sent_ms)
    assert answered == datetime(2026, 3, 5, 11, 0, tzinfo=UTC)
    assert sent == datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 3 days on is a Sunday: Monday 09:00
    assert ask["Subject"] == "Ann, would you share a few words?"
    links = review_links(ask)
    assert set(links) == {"Google", "Houzz"}
    assert all(url.startswith("http://vouch.test/review/") for url in links.values())
    html = html_of(ask)
    assert "Write a review on Google" in html and "Write a review on Houzz" in html
    assert "g.page" not in html and "houzz.example" not in html  # only through Vouch
    assert ask["List-Unsubscribe"]  # a customer email like the others
    assert state_of(loop, "ann@example.com") == [("sent", None)]

    await loop.travel(timedelta(days=10))
    assert review_asks(loop) == []  # sent once


async def test_the_french_review_ask(loop: Loop) -> None:
    await loop.event("purchase.completed", "zoe@example.fr", "2026-02-20T10:00:00Z", locale="fr")
    body = {"customer": {"email": "zoe@example.fr"}, "survey": "post_purchase", "score": 10}
    assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).status_code == 202
    await loop.travel(timedelta(days=4))
    (ask,) = [m for m in loop.new_mail() if "avis" in text_of(m)]
    assert ask["Subject"] == "Ann, quelques mots pour nous ?"
    assert "Laisser un avis sur Google" in html_of(ask)
    assert set(review_links(ask)) == {"Google", "Houzz"}


@pytest.mark.parametrize("score", [8, 6, 0], ids=["passive", "detractor", "zero"])
async def test_passives_and_detractors_get_no_review_ask(loop: Loop, score: int) -> None:
    await respond(loop, "bob@example.com", score)
    await loop.travel(timedelta(days=8))
    assert review_asks(loop) == []
    assert state_of(loop, "bob@example.com") == []  # not even planned


async def test_a_promoter_who_became_a_detractor_before_it_is_due_is_not_asked(
    loop: Loop,
) -> None:
    await respond(loop, "ann@example.com", 10)
    await loop.travel(timedelta(days=1))
    await respond(loop, "ann@example.com", 4)  # changed their mind: a complaint opens
    await loop.travel(timedelta(days=4))
    assert review_asks(loop, "ann@example.com") == []
    ((state, reason),) = state_of(loop, "ann@example.com")
    assert state == "skipped" and reason is not None
    assert "complaint is open" in reason


async def test_the_unsubscribed_are_never_asked(loop: Loop) -> None:
    await respond(loop, "ann@example.com", 10)
    customer = await loop.services.store.customer_by_email("ann@example.com")
    assert customer is not None
    token = unsubscribe_token(loop.services.signer, customer.public_id)
    assert (await loop.client.post(f"/u/{token}")).status_code == 200
    await loop.travel(timedelta(days=5))
    assert review_asks(loop) == []
    assert state_of(loop, "ann@example.com") == [
        ("skipped", "address is suppressed (unsubscribed)")
    ]


async def test_no_second_review_ask_within_its_cool_down_and_one_after(loop: Loop) -> None:
    await respond(loop, "ann@example.com", 10)
    await loop.travel(timedelta(days=4))
    assert len(review_asks(loop, "ann@example.com")) == 1

    # a second promoter answer two weeks later: inside the 30-day cool-down
    body = {"customer": {"email": "ann@example.com"}, "survey": "project_completion", "score": 9}
    assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).status_code == 202
    await loop.travel(timedelta(days=10))
    assert review_asks(loop) == []
    first, second = state_of(loop, "ann@example.com")
    assert first == ("sent", None)
    assert second[0] == "skipped" and "review cool-down: asked on 2026-03-0" in str(second[1])

    # a referral ask went meanwhile? The review ask's cool-down is its own: after 30 days, one
    await loop.travel(timedelta(days=20))
    body["survey"] = "post_purchase"
    assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).status_code == 202
    await loop.travel(timedelta(days=5))
    assert len(review_asks(loop, "ann@example.com")) == 1
    assert [s for s, _ in state_of(loop, "ann@example.com")] == ["sent", "skipped", "sent"]


async def test_two_promoter_answers_before_it_is_due_plan_one_ask(loop: Loop) -> None:
    await respond(loop, "ann@example.com", 9)
    body = {"customer": {"email": "ann@example.com"}, "survey": "project_completion", "score": 10}
    assert (await loop.client.post("/v1/responses", json=body, headers=AUTH)).status_code == 202
    await loop.travel(timedelta(days=5))
    assert len(review_asks(loop, "ann@example.com")) == 1
    assert state_of(loop, "ann@example.com") == [("sent", None)]


# the redirect: a person's click counted, a scanner's not ----------------------------------------


async def asked(loop: Loop, email: str = "ann@example.com") -> dict[str, str]:
    await respond(loop, email, 10)
    await loop.travel(timedelta(days=4))
    (ask,) = review_asks(loop, email)
    return {name: path_of(url) for name, url in review_links(ask).items()}


async def report(loop: Loop) -> dict[str, Any]:
    from daemon.referrals import review_asks as reviews

    return await reviews.from_store(loop.services, 12)


async def test_a_persons_click_is_redirected_and_counted(loop: Loop) -> None:
    links = await asked(loop)
    went = await loop.client.get(links["Houzz"])
    assert went.status_code == 303
    assert went.headers["location"] == SITES[1]["url"]
    assert (await report(loop))["clicks"] == 0  # held until the scanner window has passed
    await loop.travel(timedelta(minutes=1), step=timedelta(seconds=20))
    data = await report(loop)
    assert data["clicks"] == 1 and data["sites"] == [{"site": "Houzz", "clicks": 1}]


async def test_a_scanner_opening_every_link_is_not_counted(loop: Loop) -> None:
    links = await asked(loop)
    for path in links.values():  # within seconds of each other, as Safe Links does
        assert (await loop.client.get(path)).status_code == 303
        loop.clock.advance(timedelta(seconds=1))
    await loop.travel(timedelta(minutes=2), step=timedelta(seconds=20))
    assert (await report(loop))["clicks"] == 0
    store = loop.services.store
    assert query(store, "SELECT state, count(*) FROM review_clicks GROUP BY state") == [
        ("scanner", 2)
    ]

    # and the person who comes later is counted
    assert (await loop.client.get(links["Google"])).status_code == 303
    await loop.travel(timedelta(minutes=1), step=timedelta(seconds=20))
    assert (await report(loop))["sites"] == [{"site": "Google", "clicks": 1}]


async def test_a_head_request_is_redirected_and_never_recorded(loop: Loop) -> None:
    links = await asked(loop)
    checked = await loop.client.head(links["Google"])
    assert checked.status_code == 303 and checked.headers["location"] == SITES[0]["url"]
    store = loop.services.store
    assert query(store, "SELECT count(*) FROM review_clicks") == [(0,)]


async def test_a_bad_or_forged_review_link_gets_a_clear_404(loop: Loop) -> None:
    links = await asked(loop)
    good = links["Google"].removeprefix("/review/")
    store = loop.services.store
    (public_id,) = query(store, "SELECT public_id FROM review_asks")[0]
    signer = loop.services.signer
    bad = [
        "nonsense",
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # tampered signature
        survey_token(signer, public_id, 9),  # a genuine token for another purpose
        review_token(signer, "0" * 32, 0),  # signed, but no such ask
        review_token(signer, public_id, 2),  # signed, but the ask named two sites
    ]
    for token in bad:
        page = await loop.client.get(f"/review/{token}")
        assert page.status_code == 404, token
        assert "This link is not valid" in page.text
        assert "location" not in page.headers
    assert query(store, "SELECT count(*) FROM review_clicks") == [(0,)]


async def test_the_links_keep_their_sites_after_the_owner_edits_the_list(loop: Loop) -> None:
    links = await asked(loop)
    edited = merge(REVIEWS, {"reviews": {"sites": [{"name": "Yelp", "url": "https://y.example"}]}})
    config = load_config(
        write_business(loop.services.config.root, merge(edited, CONFIG_CHANGES)),
        {**ENV, **ENV_EXTRA},
    )
    loop.services.config = config
    went = await loop.client.get(links["Houzz"])
    assert went.headers["location"] == SITES[1]["url"]


# the report and the dashboard ------------------------------------------------------------------


async def test_the_report_counts_asks_and_clicks_per_site_and_month(
    loop: Loop, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = await asked(loop, "ann@example.com")  # March
    bob = await asked(loop, "bob@example.com")
    for path in (ann["Google"], ann["Google"], bob["Google"]):  # Ann clicks twice: once
        assert (await loop.client.get(path)).status_code == 303
        loop.clock.advance(timedelta(minutes=5))
    await loop.travel(timedelta(days=30))  # April
    cara = await asked(loop, "cara@example.com")
    assert (await loop.client.get(cara["Houzz"])).status_code == 303
    await loop.travel(timedelta(minutes=1), step=timedelta(seconds=20))

    data = await report(loop)
    assert data["asks"] == 3 and data["clicks"] == 3
    assert data["sites"] == [{"site": "Google", "clicks": 2}, {"site": "Houzz", "clicks": 1}]
    march, april = data["months"][-2:]
    assert march == {"month": "2026-03", "asks": 2, "clicks": 2, "sites": {"Google": 2}}
    assert april == {"month": "2026-04", "asks": 1, "clicks": 1, "sites": {"Houzz": 1}}
    assert len(data["months"]) == 12

    from daemon.cli import main

    for name, value in {**ENV, **ENV_EXTRA}.items():
        monkeypatch.setenv(name, value)
    path = str(loop.services.config.path)
    assert await asyncio.to_thread(main, ["report", "reviews", "--config", path]) == 0
    text = capsys.readouterr().out
    assert "Review asks sent: 3; sites clicked by people: 3" in text
    assert re.search(r"^Google\s+2$", text, re.M) and re.search(r"^Houzz\s+1$", text, re.M)
    assert re.search(r"^2026-03\s+2\s+2\s+Google 2$", text, re.M)
    args = ["report", "reviews", "--config", path, "--format", "json", "--months", "2"]
    assert await asyncio.to_thread(main, args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["sites"] == data["sites"] and len(printed["months"]) == 2
    args = ["report", "reviews", "--config", path, "--format", "csv"]
    assert await asyncio.to_thread(main, args) == 0
    assert "2026-04,1,1,Houzz,1" in capsys.readouterr().out.splitlines()

    await login(loop.client)
    page = await loop.client.get("/admin/reviews")
    assert page.status_code == 200
    assert "3 review asks sent; 3 sites clicked by people" in page.text
    assert '<td>Google</td><td class="num">2</td>' in page.text
    assert '<td>2026-04</td><td class="num">1</td><td class="num">1</td><td>Houzz 1</td>' in (
        page.text
    )
    assert 'href="/admin/reviews"' in (await loop.client.get("/admin")).text


async def test_the_reviews_page_needs_the_owner(loop: Loop) -> None:
    page = await loop.client.get("/admin/reviews", follow_redirects=False)
    assert page.status_code in (302, 303) and "/admin/login" in page.headers["location"]


# config and templates ---------------------------------------------------------------------------


def test_asking_for_reviews_without_sites_is_an_error_naming_the_key(
    make_config: Callable[..., Config],
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config({"reviews": {"ask": True}})
    said = str(caught.value)
    assert "reviews" in said and "[[reviews.sites]]" in said
    with pytest.raises(ConfigError) as caught:
        make_config({"reviews": {"sites": SITES, "ask": True, "ask_delay_days": 90}})
    assert "reviews.ask_delay_days" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        make_config({"reviews": {"sites": SITES, "ask": "maybe"}})
    assert "reviews.ask" in str(caught.value)


def test_review_asks_are_off_by_default(make_config: Callable[..., Config]) -> None:
    assert make_config({"reviews": {"sites": SITES}}).settings.reviews.ask is False


def test_vouch_check_renders_the_review_ask_and_finds_a_missing_variable(
    make_config: Callable[..., Config], clock: Any
) -> None:
    config = make_config(REVIEWS)
    renderer = Renderer(config, clock)
    assert renderer.check() == []
    for locale in ("en", "fr"):
        rendered = renderer.preview("review_ask", locale)
        assert "sample-token-1" in rendered.text
    broken = config.templates_dir / "review_ask.fr.txt"
    broken.write_text(broken.read_text().replace("{{ s.url }}", "{{ s.link }}"))
    problems = Renderer(config, clock).check()
    assert any("review_ask.fr.txt" in p.file for p in problems), problems


# the store, on both backends --------------------------------------------------------------------


async def test_the_store_plans_sends_and_judges_review_asks(store: Any) -> None:
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ann = (await store.ensure_customer("ann@example.com", now)).id
    due = now + timedelta(days=3)
    assert await store.plan_review_ask(ann, "response:1", due, now) is True
    assert await store.plan_review_ask(ann, "response:1", due, now) is False  # the same answer
    assert await store.plan_review_ask(ann, "response:2", due, now) is False  # one scheduled
    assert await store.due_review_asks(now, 10) == []
    (ask,) = await store.due_review_asks(due, 10)
    assert (ask.customer_id, ask.state, ask.due_at) == (ann, "scheduled", due)
    assert len(ask.public_id) == 32 and ask.site_list() == []
    assert await store.last_review_ask(ann) is None

    await store.move_review_ask(ask.id, due + timedelta(hours=1))
    assert await store.due_review_asks(due, 10) == []
    await store.review_ask_sent(ask.id, SITES, due + timedelta(hours=1))
    assert await store.due_review_asks(due + timedelta(days=1), 10) == []
    assert await store.last_review_ask(ann) == due + timedelta(hours=1)
    sent = await store.review_ask(ask.public_id)
    assert sent.state == "sent" and sent.site_list() == SITES
    assert await store.review_ask("f" * 32) is None
    assert await store.review_asks_sent() == [due + timedelta(hours=1)]

    assert await store.plan_review_ask(ann, "response:2", due, now) is True  # none scheduled now
    second = (await store.review_asks_of(ann))[1]
    await store.skip_review_ask(second.id, "review cool-down")
    skipped = await store.review_ask(second.public_id)
    assert (skipped.state, skipped.reason, skipped.due_at) == ("skipped", "review cool-down", None)

    at = due + timedelta(hours=2)
    for site, name, seconds in (
        (0, "Google", 0),
        (1, "Houzz", 2),
        (0, "Google", 60),
        (0, "Google", 90),
    ):
        await store.add_review_click(ask.id, site, name, at + timedelta(seconds=seconds))
    pending = await store.pending_review_clicks(10)
    assert [(c.score, c.at) for c in pending[ask.id]] == [
        (0, at),
        (1, at + timedelta(seconds=2)),
        (0, at + timedelta(seconds=60)),
        (0, at + timedelta(seconds=90)),
    ]
    ids = [c.id for c in pending[ask.id]]
    assert all(isinstance(c, Click) for c in pending[ask.id])
    await store.settle_review_clicks(ids[:2], ids)
    assert await store.pending_review_clicks(10) == {}
    (click,) = await store.review_clicks()  # two person clicks on one site: once, the first
    assert (click.site_name, click.at) == ("Google", at + timedelta(seconds=60))
