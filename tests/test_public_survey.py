"""A survey's public link (printed on an invoice, texted, shown at the counter), end to end with
the real app, store and SMTP server: an unknown address is kept apart and never emailed; a
customer's answer counts only once confirmed from their inbox (a GET confirms nothing), with the
survey's throttle; the page says the same either way; one confirmation email a day however
often an address is typed; bad input; the link and its QR from the command line; erasure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from loop import Loop, path_of, score_links, smtp_changes, text_of

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.owner import report
from daemon.store.public_answers import NewPublicAnswer, PublicTally
from daemon.surveys import public

from helpers import ENV, write_business
from smtp_server import SmtpServer

SURVEY = "post_purchase"


@pytest.fixture
def loop_config(tmp_path: Path, loop_smtp: SmtpServer) -> Config:
    """The demo business, its post-purchase survey offered through a public link."""
    path = write_business(tmp_path / "biz", smtp_changes(loop_smtp))
    survey = path.parent / "surveys" / f"{SURVEY}.toml"
    survey.write_text("public = true\n" + survey.read_text(encoding="utf-8"), encoding="utf-8")
    return load_config(path, ENV, need_secrets=True)


def link_path(loop: Loop) -> str:
    return path_of(public.link(loop.services.config, SURVEY))


async def nps_report(loop: Loop) -> dict[str, Any]:
    services = loop.services
    built = await report.from_store(
        services.store, services.config.surveys, "UTC", services.clock.now(), 3
    )
    return report.to_json(built)


async def answer(loop: Loop, email: str, score: int, comment: str = "") -> str:
    page = await loop.client.post(
        link_path(loop), data={"email": email, "score": str(score), "comment": comment}
    )
    assert page.status_code == 200, page.text
    return page.text


def confirm_path(message: EmailMessage) -> str:
    found = re.search(r"(http\S+/p/c/\S+)", text_of(message))
    assert found, text_of(message)
    return path_of(found.group(1))


async def test_the_page_asks_for_an_address_beside_the_score(loop: Loop) -> None:
    page = await loop.client.get(link_path(loop))
    assert page.status_code == 200
    assert 'type="email"' in page.text and 'name="score"' in page.text
    assert "How likely are you to recommend Harbor Lane Renovations" in page.text


async def test_an_unknown_address_is_kept_apart_and_never_emailed(loop: Loop) -> None:
    said = await answer(loop, "walk-in@example.net", 10, "Lovely shop")
    assert "If you are one of our customers, we have emailed you a link" in said
    await loop.travel(timedelta(hours=2))
    assert loop.new_mail() == []
    figures = await nps_report(loop)
    assert figures["overall"]["responses"] == 0
    apart = figures["public_link"]["apart"]
    assert apart["responses"] == 1 and apart["segments"]["promoter"] == 1


async def test_a_customers_answer_counts_once_confirmed_from_their_inbox(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    stranger = await answer(loop, "nobody@example.net", 9)
    said = await answer(loop, "ANN@example.com", 9, "Great crew")
    assert said == stranger  # the page tells nobody whether an address is a customer's
    await loop.travel(timedelta(hours=1))
    (confirmation,) = loop.new_mail()
    assert confirmation["To"].addresses[0].addr_spec == "ann@example.com"
    assert confirmation["Subject"] == "Was this your answer?"
    assert "Score: 9 out of 10" in text_of(confirmation)
    figures = await nps_report(loop)
    assert figures["overall"]["responses"] == 0
    assert figures["public_link"]["waiting"] == 1

    path = confirm_path(confirmation)
    for _ in range(2):  # a link scanner's fetch confirms nothing
        page = await loop.client.get(path)
        assert page.status_code == 200 and "Yes, confirm my answer" in page.text
    assert (await nps_report(loop))["overall"]["responses"] == 0

    thanks = await loop.client.post(path)
    assert thanks.status_code == 200 and "You answered 9." in thanks.text
    assert "Your comment: “Great crew”" in thanks.text
    assert "/r/" in thanks.text  # a promoter's own link to share, as on the survey page
    again = await loop.client.post(path)
    assert "Your answer is confirmed" in again.text
    figures = await nps_report(loop)
    assert figures["overall"]["responses"] == 1
    assert figures["public_link"]["counted"] == 1
    # it answered the survey planned for the purchase: that survey is not sent on top
    await loop.travel(timedelta(days=5))
    assert [m["Subject"] for m in loop.new_mail()] == []


async def test_the_throttle_keeps_a_recent_customers_second_answer_apart(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await loop.travel(timedelta(days=3, hours=12))
    (survey,) = loop.new_mail()
    await loop.client.post(path_of(score_links(survey)[6]), data={"score": "6", "via": "form"})
    # the invitation has expired (the daemon working once a day: nothing here is timed finer);
    # the 90-day throttle holds
    await loop.travel(timedelta(days=35), step=timedelta(days=1))
    loop.new_mail()
    await answer(loop, "ann@example.com", 10)
    await loop.travel(timedelta(hours=1))
    (confirmation,) = loop.new_mail()
    page = await loop.client.post(confirm_path(confirmation))
    assert "Your answer is confirmed" in page.text
    figures = await nps_report(loop)
    assert figures["overall"]["responses"] == 1
    assert figures["overall"]["segments"]["detractor"] == 1
    assert figures["public_link"]["throttled"] == 1


async def test_a_typed_address_gets_one_confirmation_a_day(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    for score in (1, 2, 3, 4, 5):
        await answer(loop, "ann@example.com", score)
    await loop.travel(timedelta(hours=23))
    assert len(loop.new_mail()) == 1
    await answer(loop, "ann@example.com", 6)  # within the day: nothing more
    await loop.travel(timedelta(hours=2))
    assert loop.new_mail() == []
    await answer(loop, "ann@example.com", 7)  # a day after the first: one more
    await loop.travel(timedelta(hours=1))
    assert len(loop.new_mail()) == 1


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"score": "9"}, "Please give your email address"),
        ({"score": "9", "email": "not an address"}, "Please give your email address"),
        ({"email": "ann@example.com"}, "Please choose a score from 0 to 10."),
        ({"email": "ann@example.com", "score": "11"}, "Please choose a score from 0 to 10."),
        ({"email": "a@example.com", "score": "3", "comment": "bad\x07"}, "control characters"),
    ],
)
async def test_bad_input_is_said_and_nothing_kept(
    loop: Loop, form: dict[str, str], message: str
) -> None:
    page = await loop.client.post(link_path(loop), data=form)
    assert page.status_code == 400 and message in page.text
    assert form.get("email", "") in page.text  # what they typed is kept in the form
    assert await loop.services.store.public_tallies() == {}


async def test_only_a_genuine_link_to_a_public_survey_opens(loop: Loop) -> None:
    good = link_path(loop)
    assert (await loop.client.get(good[:-2] + "xx")).status_code == 404
    assert (
        await loop.client.get(path_of(public.link(loop.services.config, "nope")))
    ).status_code == 404
    other = path_of(public.link(loop.services.config, "project_completion"))  # not public
    assert (await loop.client.get(other)).status_code == 404
    assert (
        await loop.client.post(other, data={"email": "a@b.co", "score": "9"})
    ).status_code == 404
    assert (await loop.client.get("/p/c/forged.token")).status_code == 404


async def test_forgetting_a_person_erases_their_public_answers(loop: Loop) -> None:
    await loop.event("purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z")
    await answer(loop, "ann@example.com", 8, "Tidy work")
    exported = await loop.services.store.person_export("ann@example.com")
    assert [a["comment"] for a in exported["public_answers"]] == ["Tidy work"]
    await loop.services.store.forget("ann@example.com", loop.clock.now())
    assert await loop.services.store.public_tallies() == {}


def test_the_link_and_its_qr_from_the_command_line(
    loop_config: Config,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    qr = tmp_path / "counter.svg"
    config = str(loop_config.path)
    assert main(["survey", "link", SURVEY, "--qr", str(qr), "--config", config]) == 0
    out = capsys.readouterr().out
    assert out.startswith(public.link(loop_config, SURVEY) + "\n")
    assert qr.read_text().startswith("<?xml") and "<svg" in qr.read_text()
    assert main(["survey", "link", "project_completion", "--config", config]) == 2
    assert "public: the survey has no public link; set public = true" in capsys.readouterr().err
    assert main(["survey", "link", "nope", "--config", config]) == 2
    assert (
        main(["survey", "link", SURVEY, "--qr", str(tmp_path / "x.jpg"), "--config", config]) == 2
    )


async def test_the_store_keeps_public_answers_alike_on_both_backends(concerns: Any) -> None:
    store, now = concerns, datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ann = await store.ensure_customer("ann@example.com", now)
    walk_in = NewPublicAnswer(SURVEY, "Walk-In@Example.net", None, 10, None, None)
    apart = await store.add_public_answer(walk_in, now)
    assert (apart.state, apart.email, apart.settled_at) == ("apart", "walk-in@example.net", now)
    typed = NewPublicAnswer(SURVEY, "ann@example.com", ann.id, 3, "Late", "fr")
    waiting = await store.add_public_answer(typed, now)
    assert waiting.state == "pending" and waiting.settled_at is None
    assert await store.public_answer(waiting.public_id) == waiting
    assert await store.pending_since("ANN@example.com", now - timedelta(days=1))
    assert not await store.pending_since("ann@example.com", now + timedelta(seconds=1))
    later = now + timedelta(hours=2)
    assert await store.settle_public_answer(waiting.id, "counted", later)
    assert not await store.settle_public_answer(waiting.id, "throttled", later)  # once
    settled = await store.public_answer(waiting.public_id)
    assert (settled.state, settled.settled_at) == ("counted", later)
    tallies = await store.public_tallies()
    assert tallies == {"apart": PublicTally(1, 1, 0), "counted": PublicTally(1, 0, 1)}
