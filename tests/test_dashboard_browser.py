"""The dashboard and the survey page in a real browser: Playwright driving Debian's Chromium
against the real app on a loopback port, with a real SMTP server (tests/live_vouch.py).

Screenshots go to $VOUCH_SCREENSHOTS when it is set (`make screenshots` writes docs/), else to
the test's temporary directory.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from loop import Loop, path_of, score_links, text_of

from daemon.config import Config, load_config
from daemon.engine.segments import Nps
from daemon.web.charts import signed, whole

from browsing import CHROMIUM, MARKS, phone, watch
from dashboard_data import ANSWERS, CONFIG_CHANGES, DETRACTOR, ENV_EXTRA, FRIENDS, PASSWORD, seed
from helpers import ENV, merge, write_business
from live_vouch import LiveVouch
from smtp_server import SmtpServer

pytestmark = MARKS

if CHROMIUM.exists():
    from playwright.sync_api import Browser, FilePayload, Page, expect


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveVouch]:
    def make(smtp: SmtpServer, url: str) -> Config:
        changes = {
            "business": {"public_url": url},
            "email": {
                "transport": "smtp",
                "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
            },
        }
        path = write_business(tmp_path / "biz", merge(CONFIG_CHANGES, changes))
        return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)

    with LiveVouch(make) as running:
        yield running


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("VOUCH_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def page(browser: Browser, live: LiveVouch) -> Iterator[Page]:
    """A desktop-sized page that fails the test on a console error or a failed response, but
    the wrong password's 401."""
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live.url)
    opened = context.new_page()
    errors = watch(opened, allowed=(401, "/admin/login"))
    yield opened
    context.close()
    assert errors == []


def seeded(live: LiveVouch) -> None:
    async def work(loop: Loop) -> None:
        await seed(loop.services, loop.client)
        await loop.run()

    live.call(work)


def log_in(page: Page) -> None:
    page.goto("/admin")
    expect(page).to_have_url(re.compile(r"/admin/login\?next=/admin$"))
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="NPS now")).to_be_visible()


def test_owner_logs_in_and_reads_the_dashboard(page: Page, live: LiveVouch, shots: Path) -> None:
    seeded(live)
    page.goto("/admin")
    page.get_by_label("Password").fill("a wrong password, surely")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text("That is not the dashboard password.")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    nps = Nps.of([a[2] for a in ANSWERS] + [DETRACTOR[2], 10])
    assert nps.score is not None and nps.margin is not None
    expect(page.locator(".kpi .big").first).to_have_text(
        f"{signed(nps.score)} ±{whole(nps.margin)}"
    )
    trend = page.get_by_role("img", name="NPS by month")
    expect(trend).to_be_visible()
    expect(trend.locator("circle")).to_have_count(6)
    bars = page.get_by_role("img", name="Score distribution").locator("g.bar")
    expect(bars).to_have_count(11)
    expect(page.locator("#complaints")).to_contain_text(DETRACTOR[3])
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    # the reports: the life cycle, and each report in words with its figures a click away
    nav = page.get_by_role("navigation", name="Dashboard")
    nav.get_by_role("link", name="Reports").click()
    road = page.get_by_role("img", name="Customers at each stage")
    expect(road.locator("g.step")).to_have_count(7)
    sources = page.locator("#sources")
    expect(sources.locator("ul.findings li").first).to_contain_text("referrals so far")
    expect(sources.get_by_role("table")).to_be_hidden()
    sources.get_by_text("The figures").click()
    expect(sources.get_by_role("table")).to_be_visible()
    page.screenshot(path=str(shots / "dashboard-reports.png"), full_page=True)
    nav.get_by_role("link", name="Overview").click()
    # a partner added through the form appears in the list with its link
    page.get_by_role("link", name="Partners").click()
    page.get_by_label("Business name").fill("Harbor Physio")
    page.get_by_label("Email address").fill("dana@physio.example")
    page.get_by_label("Trade").fill("physiotherapy")
    page.get_by_label("The clients they want").fill("people recovering from an injury")
    page.get_by_role("button", name="Add partner").click()
    expect(page.get_by_role("status")).to_contain_text("Partner added")
    expect(page.locator("#partners tbody tr")).to_have_count(1)
    expect(page.locator("#partners tbody")).to_contain_text("Harbor Physio")
    expect(page.locator("#partners tbody")).to_contain_text(f"{live.url}/r/")
    # every email kind and survey page previewed in its sandboxed frame (a CSP refusal fails)
    page.get_by_role("link", name="Templates").click()
    expect(page.frame_locator("#survey iframe").locator("body")).to_contain_text("0")
    expect(page.locator("iframe.phone")).to_have_count(12)
    # a sent email, as the customer saw it, in its sandboxed frame (the advocate, from the
    # referral pipeline)
    nav.get_by_role("link", name="Referrals").click()
    page.get_by_role("link", name="Olivia Bennett").first.click()
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    page.get_by_role("link", name="Thank-you for an introduction sent").first.click()
    frame = page.frame_locator("iframe.preview")
    expect(frame.locator("body")).to_contain_text("Thank you")


def test_owner_resolves_a_complaint(page: Page, live: LiveVouch) -> None:
    seeded(live)
    log_in(page)
    complaint = page.locator("#complaints li.complaint")
    expect(complaint).to_have_count(1)
    complaint.get_by_placeholder("What was done").fill("New tiles fitted on Friday")
    complaint.get_by_role("button", name="Resolve").click()
    expect(page.get_by_role("status")).to_contain_text("Complaint resolved")
    expect(page.locator("#complaints li.complaint")).to_have_count(0)

    async def still_open(loop: Loop) -> int:
        customer = await loop.services.store.customer_by_email(DETRACTOR[1])
        assert customer is not None
        return await loop.services.store.open_complaints(customer.id)

    assert live.call(still_open) == 0


def test_owner_moves_a_referral_to_won_and_the_advocate_hears(page: Page, live: LiveVouch) -> None:
    seeded(live)
    before = len(live.mail_to("olivia.bennett@example.com"))
    log_in(page)
    page.get_by_role("navigation", name="Dashboard").get_by_role("link", name="Referrals").click()
    friend = FRIENDS[0][0]
    card = page.get_by_role("article", name=f"Referral of {friend}")
    card.get_by_text("Note, value").click()
    card.get_by_label("Value won").fill("8400")
    card.get_by_role("button", name="Won").click()
    sure = page.get_by_role("heading", name=f"Mark the referral of {friend} as won?")
    expect(sure).to_be_visible()
    page.get_by_role("button", name="Yes, mark won").click()
    expect(page.get_by_role("status")).to_contain_text("Referral won")
    expect(page.locator(".stage.won")).to_contain_text(friend)
    live.call(lambda loop: loop.run())  # what the daemon does when woken
    (reward,) = live.mail_to("olivia.bennett@example.com")[before:]
    assert friend in text_of(reward) and "THANKS-" in text_of(reward)


def test_customer_answers_the_survey_on_a_phone(
    browser: Browser, live: LiveVouch, shots: Path
) -> None:
    async def survey_arrives(loop: Loop) -> None:
        await loop.event("purchase.completed", "maya@example.com", "2026-03-02T09:00:00Z")
        await loop.travel(timedelta(days=4), step=timedelta(hours=6))

    live.call(survey_arrives)
    (survey,) = live.mail_to("maya@example.com")
    link = path_of(score_links(survey)[9])
    on_phone = phone(browser, live.url)
    try:
        page = on_phone.new_page()
        page.goto(link)
        expect(page.get_by_role("radio", name="9")).to_be_checked()
        expect(page.get_by_text("Wonderful! What did we do best?")).to_be_visible()
        page.get_by_role("textbox").fill("Quick, tidy and friendly. Thank you!")
        page.screenshot(path=str(shots / "survey-phone.png"))
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    finally:
        on_phone.close()

    async def answer(loop: Loop) -> tuple[int, str | None]:
        (line,) = await loop.services.store.latest_responses(1)
        return line.score, line.comment

    assert live.call(answer) == (9, "Quick, tidy and friendly. Thank you!")


# the owner's routine tasks, on a laptop and on a phone -------------------------------------------

SIZES = {"laptop": (1280, 800), "phone": (390, 844)}
#: The refusals these tests provoke on purpose: a wrong mark, a wrong address, a bad file (422).
EXPECTED = re.compile(
    r"422 http://[^/]+/admin/(customers/\w+/(influence|forget)|rewards/codes"
    r"|data/(check|import)|edit/(survey/\w+|education))"
)


def unexpected(errors: list[str]) -> list[str]:
    return [e for e in errors if not EXPECTED.fullmatch(e)]


@pytest.fixture(params=sorted(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser, live: LiveVouch) -> Iterator[Page]:
    """A page at a laptop's size, then a phone's (touch), failing the test on a console error
    or a failed response but the EXPECTED refusals."""
    width, height = SIZES[request.param]
    if request.param == "phone":
        context = phone(browser, live.url)
    else:
        context = browser.new_context(
            viewport={"width": width, "height": height}, base_url=live.url
        )
    opened = context.new_page()
    errors = watch(opened)
    yield opened
    context.close()
    assert unexpected(errors) == []


def fits(page: Page) -> None:
    """Nothing wider than the screen: a wide table scrolls inside its card."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


async def later(loop: Loop) -> None:
    """A minute on, so that the next action is the latest one shown."""
    loop.clock.advance(timedelta(minutes=1))


def test_owner_finds_a_customer_notes_marks_and_forgets(
    sized: Page, live: LiveVouch, shots: Path
) -> None:
    page = sized
    seeded(live)
    log_in(page)
    page.goto("/admin/customers")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()
    table = page.get_by_role("region", name=re.compile(r"^Customers, 1 to \d+ of \d+$"))
    expect(table.get_by_role("link", name="Olivia Bennett")).to_be_visible()
    fits(page)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "laptop"
    page.screenshot(path=str(shots / f"customers-{size}.png"), full_page=True)
    page.get_by_label("Name, email, tag or your reference").fill("olivia")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("heading", name="Olivia Bennett", level=1)).to_be_visible()
    page.get_by_label("A note about Olivia Bennett").fill("Prefers a call after 5pm.")
    page.get_by_role("button", name="Keep note").click()
    expect(page.get_by_role("status")).to_contain_text("Note kept")
    expect(page.locator("#notes .note")).to_contain_text("Prefers a call after 5pm.")
    live.call(later)
    page.get_by_label("Your influence mark, 0–10 (blank: none)").fill("11")
    page.get_by_role("button", name="Save mark").click()
    mark = page.get_by_label("Your influence mark, 0–10 (blank: none)")
    expect(mark).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-mark")).to_contain_text("whole number from 0 to 10")
    mark.fill("9")
    page.get_by_role("button", name="Save mark").click()
    expect(page.get_by_role("status")).to_contain_text("Influence mark saved")
    fits(page)
    page.screenshot(path=str(shots / f"customer-{size}.png"), full_page=True)
    # forgetting asks for the address, typed
    page.goto("/admin/customers?q=harry")
    expect(page.get_by_role("heading", name="Harry Collins", level=1)).to_be_visible()
    address = "harry.collins@example.com"
    page.get_by_label(f"Type {address} to confirm").fill("harry")
    page.get_by_role("button", name="Forget this person").click()
    expect(page.locator("#e-confirm")).to_contain_text("Nothing was erased")
    page.get_by_label(f"Type {address} to confirm").fill(address)
    page.get_by_role("button", name="Forget this person").click()
    expect(page.get_by_role("status")).to_contain_text("Forgotten")

    async def gone(loop: Loop) -> bool:
        return await loop.services.store.customer_by_email(address) is None

    assert live.call(gone)


def test_owner_confirms_a_loss_then_reopens_it(sized: Page, live: LiveVouch, shots: Path) -> None:
    page = sized
    seeded(live)

    async def first(loop: Loop) -> str:
        _, pipeline = await loop.services.store.referral_pipeline(10)
        return next(r.public_id for r in pipeline if r.friend_name == FRIENDS[0][0])

    public_id = live.call(first)
    log_in(page)
    page.goto(f"/admin/referrals/{public_id}")
    page.get_by_role("button", name="Lost").click()
    expect(page.get_by_role("heading", name=f"Mark the referral of {FRIENDS[0][0]} as lost?"))
    page.get_by_role("link", name="No, go back").click()
    expect(page.get_by_role("heading", name=FRIENDS[0][0], level=1)).to_contain_text("new")
    page.get_by_role("button", name="Lost").click()
    page.get_by_role("button", name="Yes, mark lost").click()
    expect(page.get_by_role("status")).to_contain_text("Referral marked lost")
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("status")).to_contain_text("Referral reopened")
    expect(page.get_by_role("heading", name=FRIENDS[0][0], level=1)).to_contain_text("new")
    page.get_by_label("A private note about this referral").fill("Call again in June.")
    page.get_by_role("button", name="Keep note").click()
    expect(page.locator("#notes .note")).to_contain_text("Call again in June.")
    fits(page)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "laptop"
    page.screenshot(path=str(shots / f"referral-{size}.png"), full_page=True)


@pytest.fixture
def pool_live(tmp_path: Path) -> Iterator[LiveVouch]:
    """Vouch paying rewards from a pool of the owner's codes, each approved first."""

    def make(smtp: SmtpServer, url: str) -> Config:
        changes = {
            "business": {"public_url": url},
            "email": {
                "transport": "smtp",
                "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
            },
            "referrals": {"reward": {"kind": "pool", "approval": True}},
        }
        path = write_business(tmp_path / "pool", merge(CONFIG_CHANGES, changes))
        return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)

    with LiveVouch(make) as running:
        yield running


def codes_file(data: bytes) -> FilePayload:
    return FilePayload(name="codes.txt", mimeType="text/plain", buffer=data)


@pytest.mark.parametrize("size", sorted(SIZES))
def test_owner_loads_codes_and_approves_a_reward(
    browser: Browser, pool_live: LiveVouch, size: str, shots: Path
) -> None:
    live = pool_live
    width, height = SIZES[size]
    context = (
        phone(browser, live.url)
        if size == "phone"
        else browser.new_context(viewport={"width": width, "height": height}, base_url=live.url)
    )
    page = context.new_page()
    errors = watch(page)
    try:
        seeded(live)
        log_in(page)
        page.get_by_role("navigation", name="Dashboard").get_by_role(
            "link", name="Referrals"
        ).click()
        card = page.get_by_role("article", name=f"Referral of {FRIENDS[0][0]}")
        card.get_by_role("button", name="Won").click()
        page.get_by_role("button", name="Yes, mark won").click()
        expect(page.get_by_role("status")).to_contain_text("Referral won")
        page.get_by_role("link", name="Rewards").click()
        waiting = page.get_by_role("region", name="Rewards waiting")
        expect(waiting).to_contain_text("waiting for a code from your pool")
        codes = page.get_by_label("A text file of codes, one a line")
        codes.set_input_files(codes_file(b"BAD\x07CODE\n"))
        page.get_by_role("button", name="Load codes").click()
        expect(page.get_by_role("alert")).to_contain_text("codes.txt line 1")
        expect(codes).to_have_attribute("aria-invalid", "true")
        codes.set_input_files(codes_file(b"SPRING-1\n"))
        page.get_by_role("button", name="Load codes").click()
        expect(page.get_by_role("status")).to_contain_text("1 new codes in the pool")
        expect(waiting).to_contain_text("waiting for your approval")
        fits(page)
        page.screenshot(path=str(shots / f"rewards-{size}.png"), full_page=True)
        waiting.get_by_role("button", name="Approve the reward for Olivia Bennett").click()
        expect(page.get_by_role("status")).to_contain_text("Reward approved")
        live.call(lambda loop: loop.run())
        (reward,) = [
            m for m in live.mail_to("olivia.bennett@example.com") if "SPRING-1" in text_of(m)
        ]
        assert FRIENDS[0][0] in text_of(reward)
    finally:
        context.close()
    assert unexpected(errors) == []


def test_owner_checks_imports_and_downloads_a_csv(
    sized: Page, live: LiveVouch, shots: Path
) -> None:
    page = sized
    log_in(page)
    page.get_by_role("link", name="Import & export").click()
    expect(
        page.get_by_role("heading", name="Import customers, purchases or projects")
    ).to_be_visible()
    people = b"email,name\nann@example.com,Ann\nnot-an-address,Cy\nbo@example.com,Bo\n"
    page.get_by_label(re.compile(r"^CSV file")).set_input_files(
        FilePayload(name="customers.csv", mimeType="text/csv", buffer=people)
    )
    page.get_by_role("button", name="Check the file").click()
    problems = page.get_by_role("region", name="Problems by line")
    expect(problems).to_contain_text("customers.csv: line 3, column 'email'")
    expect(page.locator("#summary")).to_contain_text("2 good (dry run: nothing written), 1 bad")
    fits(page)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "laptop"
    page.screenshot(path=str(shots / f"import-{size}.png"), full_page=True)

    async def imported(loop: Loop) -> bool:
        return await loop.services.store.customer_by_email("bo@example.com") is not None

    assert not live.call(imported)
    page.get_by_role("button", name="Import the 2 good lines").click()
    expect(page.get_by_role("status")).to_contain_text("Imported.")
    expect(page.locator("#summary")).to_contain_text("2 new, 0 updated, 0 unchanged, 1 bad")
    assert live.call(imported)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download customers").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert saved.splitlines()[0].startswith("email,")
    assert "bo@example.com" in saved
    fits(page)


def test_owner_reads_what_is_planned_and_what_was_held_back(
    sized: Page, live: LiveVouch, shots: Path
) -> None:
    page = sized
    seeded(live)

    async def planned(loop: Loop) -> None:
        await loop.event("purchase.completed", "maya@example.com", "2026-03-02T08:00:00Z")
        await loop.run()

    live.call(planned)
    log_in(page)
    page.get_by_role("link", name="Upcoming").click()
    expect(page.get_by_role("heading", name="Upcoming")).to_be_visible()
    table = page.get_by_role("region", name=re.compile(r"^Planned, 1 to \d+ of \d+$"))
    expect(table).to_contain_text("after purchase completed")
    fits(page)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "laptop"
    page.screenshot(path=str(shots / f"upcoming-{size}.png"), full_page=True)
    page.get_by_role("link", name="Decided not to send").click()
    expect(page.get_by_role("heading", name="Decided not to send")).to_be_visible()
    held = page.get_by_role("region", name=re.compile(r"^Not sent, 1 to \d+ of \d+$"))
    expect(held).to_contain_text("not sent")
    fits(page)


def tall(page: Page, path: Path) -> None:
    """The whole page, the preview frames painted: a full-page screenshot leaves sandboxed
    frames (drawn by their own process) blank, so the viewport is made as tall as the page."""
    viewport = page.viewport_size
    assert viewport is not None
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": viewport["width"], "height": height})
    for frame in page.locator("iframe").all():
        expect(frame).to_be_visible()
    page.screenshot(path=str(path))
    page.set_viewport_size(viewport)


def test_owner_edits_a_survey_previews_and_saves(
    sized: Page, live: LiveVouch, shots: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**ENV, **ENV_EXTRA}.items():  # the daemon's environment: its secrets
        monkeypatch.setenv(name, value)
    page = sized
    log_in(page)
    page.get_by_role("link", name="Edit words").click()
    page.get_by_role("link", name="post_purchase").click()
    expect(page.get_by_role("heading", name="The post_purchase survey")).to_be_visible()
    question = page.get_by_label("The question", exact=True)
    question.fill("How did your order from {{ business.name go?")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("surveys/post_purchase.toml: question")
    expect(page.get_by_label("The question", exact=True)).to_have_attribute("aria-invalid", "true")
    page.get_by_label("The question", exact=True).fill(
        "How did your order from {{ business.name }} go?"
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status")).to_contain_text("Preview only")
    previews = page.get_by_role("region", name="Previews")
    expect(previews.locator("iframe")).to_have_count(6)
    frame = page.frame_locator("iframe[title='Preview, en, promoter']")
    expect(frame.get_by_text("How did your order from")).to_be_visible()
    fits(page)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "laptop"
    tall(page, shots / f"edit-survey-{size}.png")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")

    async def question_now(loop: Loop) -> str:
        return loop.services.config.surveys["post_purchase"].question

    assert live.call(question_now) == "How did your order from {{ business.name }} go?"


def test_owner_edits_an_email_and_the_education_page(
    sized: Page, live: LiveVouch, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {**ENV, **ENV_EXTRA}.items():  # the daemon's environment: its secrets
        monkeypatch.setenv(name, value)
    page = sized
    log_in(page)
    page.goto("/admin/edit")
    page.get_by_role("link", name="survey in fr").click()
    expect(page.get_by_role("heading", name="The survey email, fr")).to_be_visible()
    text = page.get_by_label(re.compile(r"^templates/email/survey\.fr\.txt"))
    text.fill(text.input_value().replace("{% block subject %}", "{% block subject %}Bonjour ! ", 1))
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("region", name="Previews")).to_contain_text("Bonjour !")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    fits(page)

    async def subject(loop: Loop) -> str:
        return loop.services.renderer.preview("survey", "fr").subject

    assert live.call(subject).startswith("Bonjour !")
    page.goto("/admin/edit/education")
    page.get_by_label("What to listen for, one phrase a line").fill("We want a deck.")
    page.get_by_label("Your core message, in one sentence").fill("")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("core_message")
    page.get_by_label("Your core message, in one sentence").fill("One crew, a fixed quote.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    fits(page)

    async def listen_for(loop: Loop) -> list[str]:
        taught = loop.services.config.education
        assert taught is not None
        return taught.listen_for

    assert live.call(listen_for) == ["We want a deck."]


def test_owner_adds_themself_then_a_staff_member(sized: Page, shots: Path) -> None:
    """The first user ends the shared password: the owner logs in again by email, then adds
    a member of staff."""
    page = sized
    log_in(page)
    page.goto("/admin/users")
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    password = "a long owner passphrase, 2026"
    page.get_by_label("Name", exact=True).fill("Mike Harbor")
    page.get_by_label("Email address").fill("mike@harborlane.example")
    page.get_by_label("Role").select_option("owner")
    page.get_by_label(re.compile(r"^Password \(at least 16")).fill(password)
    page.get_by_role("button", name="Add user").click()
    page.get_by_label("Email address").fill("mike@harborlane.example")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="NPS now")).to_be_visible()
    page.goto("/admin/users")
    page.get_by_label("Name", exact=True).fill("Sam Staff")
    page.get_by_label("Email address").fill("sam@harborlane.example")
    page.get_by_label("Role").select_option("staff")
    page.get_by_label(re.compile(r"^Password \(at least 16")).fill("sam's own passphrase, 2026")
    page.get_by_role("button", name="Add user").click()
    users = page.get_by_role("region", name="Dashboard users")
    expect(users).to_contain_text("Sam Staff")
    expect(users).to_contain_text("Mike Harbor")
    fits(page)
    size = "phone" if page.viewport_size and page.viewport_size["width"] < 500 else "laptop"
    page.screenshot(path=str(shots / f"users-{size}.png"), full_page=True)
