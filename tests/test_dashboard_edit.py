"""The owner's words edited in the browser, over HTTP through the real app, the real files and
the real checks: an email kind's text, a survey's question and follow-ups, the education page.
An edit is previewed without being saved, an edit `vouch check` would refuse is never written
(its problem names the file and line), and a saved one is in the owner's file, in force at
once, and recorded. Owners only; every POST needs the session's CSRF token."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from loop import Loop, smtp_changes
from test_dashboard import csrf, login
from test_dashboard_tasks import STAFF, last_action, log_in_as, named_users

from daemon.cli import main
from daemon.config import Config, load_config
from daemon.run.metrics import Metrics
from daemon.run.services import Services, open_store
from daemon.store.previews import KEEP
from daemon.web import create_app

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA, field
from helpers import ENV, merge, write_business
from smtp_server import SmtpServer


@pytest.fixture
def loop_config(tmp_path: Path, smtp_server: SmtpServer) -> Config:
    changes = merge(smtp_changes(smtp_server), CONFIG_CHANGES)
    return load_config(
        write_business(tmp_path / "biz", changes), {**ENV, **ENV_EXTRA}, need_secrets=True
    )


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The daemon's environment, its secrets in it (the files are checked again with them)."""
    for name, value in {**ENV, **ENV_EXTRA}.items():
        monkeypatch.setenv(name, value)


def root(loop: Loop) -> Path:
    return loop.services.config.root


def frames(page: str) -> list[str]:
    return re.findall(r'src="(/admin/edit/preview/[0-9a-f]+)"', page)


def vouch_check(loop: Loop) -> int:
    return main(["check", "--config", str(loop.services.config.path)])


async def test_an_email_is_previewed_refused_with_its_line_and_saved(loop: Loop) -> None:
    txt = root(loop) / "templates" / "email" / "survey.txt"
    html = root(loop) / "templates" / "email" / "survey.html"
    before_txt, before_html = txt.read_text(), html.read_text()
    await login(loop.client)
    page = await loop.client.get("/admin/edit/email/survey")
    assert page.status_code == 200
    token = field(page.text, "csrf")
    subject = re.search(r"\{% block subject %\}(.*?)\{% endblock %\}", before_txt)
    assert subject is not None
    edited = before_txt.replace(subject[1], "How did your order go, {{ customer_name }}?")
    form = {"csrf": token, "locale": "", "txt": edited, "html": before_html}
    path = "/admin/edit/email/survey"

    refused = await loop.client.post(path, data={**form, "csrf": "", "action": "save"})
    assert refused.status_code == 403 and txt.read_text() == before_txt

    preview = await loop.client.post(path, data={**form, "action": "preview"})
    assert preview.status_code == 200 and "Preview only" in preview.text
    (shown,) = frames(preview.text)
    assert "How did your order go" in preview.text  # the subject, over the frame
    assert (await loop.client.get(shown)).status_code == 200
    assert txt.read_text() == before_txt  # a preview writes nothing

    broken = edited.replace("{% endblock %}", "{% endblok %}", 1)
    wrong = await loop.client.post(path, data={**form, "txt": broken, "action": "save"})
    assert wrong.status_code == 422
    assert re.search(r"templates/email/survey\.txt: line \d+: ", wrong.text), wrong.text
    assert 'aria-invalid="true" aria-describedby="e-edit"' in wrong.text
    assert "endblok" in wrong.text  # what was typed is kept to correct
    assert txt.read_text() == before_txt

    saved = await loop.client.post(path, data={**form, "action": "save"})
    assert saved.status_code == 303
    assert saved.headers["location"] == "/admin/edit/email/survey?done=saved"
    assert txt.read_text() == edited and html.read_text() == before_html
    assert "How did your order go" in loop.services.renderer.preview("survey").subject
    assert await last_action(loop, "email:survey") == (
        "edited survey.txt and survey.html",
        "owner",
    )
    assert await asyncio.to_thread(vouch_check, loop) == 0  # what was saved passes the CLI
    assert not list(txt.parent.glob(".survey.txt.*"))  # no temporary file left


async def test_a_translation_is_its_own_file(loop: Loop) -> None:
    fr = root(loop) / "templates" / "email" / "survey.fr.txt"
    await login(loop.client)
    page = await loop.client.get("/admin/edit/email/survey", params={"locale": "fr"})
    assert page.status_code == 200 and "survey.fr.txt" in page.text
    token = field(page.text, "csrf")
    html = (root(loop) / "templates" / "email" / "survey.fr.html").read_text()
    text = fr.read_text().replace("{% block subject %}", "{% block subject %}Bonjour ! ", 1)
    form = {"csrf": token, "locale": "fr", "txt": text, "html": html, "action": "save"}
    saved = await loop.client.post("/admin/edit/email/survey", data=form)
    assert saved.status_code == 303 and fr.read_text() == text
    assert loop.services.renderer.preview("survey", "fr").subject.startswith("Bonjour !")
    missing = await loop.client.get("/admin/edit/email/survey", params={"locale": "xx"})
    assert missing.status_code == 404
    nothing = await loop.client.get("/admin/edit/email/no_such_kind")
    assert nothing.status_code == 404


async def test_a_survey_keeps_its_comments_and_a_bad_question_is_not_saved(loop: Loop) -> None:
    path = root(loop) / "surveys" / "post_purchase.toml"
    before = path.read_text()
    await login(loop.client)
    page = await loop.client.get("/admin/edit/survey/post_purchase")
    assert page.status_code == 200
    token = field(page.text, "csrf")
    survey = loop.services.config.surveys["post_purchase"]
    fr = survey.locales["fr"]
    form = {
        "csrf": token,
        "own.question": "How did your order from {{ business.name }} go?",
        "own.promoter": survey.follow_up.promoter,
        "own.passive": survey.follow_up.passive,
        "own.detractor": "Sorry. What went wrong?",
        "fr.question": fr.question or "",
        "fr.promoter": fr.follow_up.promoter or "",
        "fr.passive": "",  # blank: the translation falls back to the main text
        "fr.detractor": fr.follow_up.detractor or "",
    }
    preview = await loop.client.post(
        "/admin/edit/survey/post_purchase", data={**form, "action": "preview"}
    )
    assert preview.status_code == 200
    assert len(frames(preview.text)) == 6  # each language, each kind of answer
    shown = await loop.client.get(frames(preview.text)[0])
    assert "How did your order from" in shown.text
    assert path.read_text() == before

    bad = {**form, "own.question": "How was {{ business.name ?", "action": "save"}
    wrong = await loop.client.post("/admin/edit/survey/post_purchase", data=bad)
    assert wrong.status_code == 422
    assert "surveys/post_purchase.toml: question" in wrong.text
    assert path.read_text() == before

    saved = await loop.client.post(
        "/admin/edit/survey/post_purchase", data={**form, "action": "save"}
    )
    assert saved.status_code == 303
    after = path.read_text()
    assert "# The survey a customer gets a few days after a purchase." in after  # comments kept
    assert 'question = "How did your order from {{ business.name }} go?"' in after
    assert 'passive = "Merci.' not in after
    now = loop.services.config.surveys["post_purchase"]
    assert now.follow_up.detractor == "Sorry. What went wrong?"
    assert now.locales["fr"].follow_up.passive is None
    assert await last_action(loop, "survey:post_purchase") == ("edited post_purchase.toml", "owner")
    assert await asyncio.to_thread(vouch_check, loop) == 0


async def test_the_education_page(loop: Loop) -> None:
    path = root(loop) / "templates" / "pages" / "referral_education.toml"
    before = path.read_text()
    await login(loop.client)
    page = await loop.client.get("/admin/edit/education")
    assert page.status_code == 200
    token = field(page.text, "csrf")
    form = {
        "csrf": token,
        "ideal_client": "Home owners in Chicago planning a deck.",
        "core_message": "One crew, a fixed quote, a tidy site.",
        "listen_for": "We want a deck.\n\n  The porch is rotten. \n",
        "after_referral": "We call within a day.",
    }
    empty = await loop.client.post(
        "/admin/edit/education", data={**form, "core_message": " ", "action": "save"}
    )
    assert empty.status_code == 422 and "referral_education.toml: core_message" in empty.text
    assert path.read_text() == before
    preview = await loop.client.post("/admin/edit/education", data={**form, "action": "preview"})
    assert preview.status_code == 200 and frames(preview.text)
    shown = await loop.client.get(frames(preview.text)[0])
    assert "The porch is rotten." in shown.text
    saved = await loop.client.post("/admin/edit/education", data={**form, "action": "save"})
    assert saved.status_code == 303
    taught = loop.services.config.education
    assert taught is not None and taught.listen_for == ["We want a deck.", "The porch is rotten."]
    assert not taught.example and "example = true" not in path.read_text()
    assert "# Who the business helps best" in path.read_text()
    assert await last_action(loop, "page:education") == ("edited referral_education.toml", "owner")


async def test_editing_is_an_owners_alone(loop: Loop) -> None:
    await named_users(loop)
    await log_in_as(loop.client, STAFF[0], STAFF[3])
    token = await csrf(loop.client, "/admin")
    for path in ("/admin/edit", "/admin/edit/email/survey", "/admin/edit/education"):
        assert (await loop.client.get(path)).status_code == 403, path
    before = (root(loop) / "surveys" / "post_purchase.toml").read_text()
    staff = await loop.client.post(
        "/admin/edit/survey/post_purchase",
        data={"csrf": token, "own.question": "Hi?", "action": "save"},
    )
    assert staff.status_code == 403 and "Only an owner" in staff.text
    assert (root(loop) / "surveys" / "post_purchase.toml").read_text() == before


async def test_a_preview_is_found_by_another_web_process_on_the_store(loop: Loop) -> None:
    """Two web processes on one store behind a load balancer: the frame's GET reaching the
    other one shows the preview; another session's GET and one after it expired do not."""
    svc = loop.services
    store = await open_store(svc.config)  # the same store: its SQLite file or its database
    other = Services(svc.config, svc.renderer, store, svc.clock, Metrics())
    transport = httpx.ASGITransport(app=create_app(other))
    second = httpx.AsyncClient(transport=transport, base_url="http://vouch.test")
    stranger = httpx.AsyncClient(transport=transport, base_url="http://vouch.test")
    try:
        await login(loop.client)
        page = await loop.client.get("/admin/edit/email/survey")
        txt = (root(loop) / "templates" / "email" / "survey.txt").read_text()
        html = (root(loop) / "templates" / "email" / "survey.html").read_text()
        block = "{% block content %}"
        edited = html.replace(block, block + "Seen on the other process", 1)
        form = {"csrf": field(page.text, "csrf"), "locale": "", "txt": txt, "html": edited}
        preview = await loop.client.post(
            "/admin/edit/email/survey", data={**form, "action": "preview"}
        )
        (shown,) = frames(preview.text)
        second.cookies = loop.client.cookies  # the same browser, the other process
        found = await second.get(shown)
        assert found.status_code == 200 and "Seen on the other process" in found.text

        await login(stranger)  # another session of the same owner: not theirs
        assert (await stranger.get(shown)).status_code == 404
        loop.clock.advance(KEEP + timedelta(seconds=1))
        assert (await second.get(shown)).status_code == 404  # expired
    finally:
        await second.aclose()
        await stranger.aclose()
        await store.close()
