"""Every page a customer, advocate, friend or owner can reach, and the HTML of every email kind,
checked with axe-core (WCAG 2 A and AA, and its best practices: tests/browsing.py) in Debian's
Chromium against the real app on a loopback port (tests/live_vouch.py), with a believable
business in it (tests/dashboard_data.py).

Each page is checked at a phone's size (390x844) and a desktop's (1280x900), and once more at
320 px wide (WCAG's reflow: what 200% zoom leaves of a 640 px window) in the dark colour scheme
with reduced motion, where it must not scroll sideways. `test_every_page_route_is_checked`
lists the routes the app serves and fails on an HTML page that no entry of PAGES reaches.
The forms are also completed with the keyboard alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.routing import APIRoute
from loop import Loop, path_of

from daemon.config import Config, load_config
from daemon.engine.segments import Segment
from daemon.mail.render import KINDS
from daemon.mail.tokens import public_answer_token, survey_token, unsubscribe_token
from daemon.store.public_answers import NewPublicAnswer
from daemon.surveys import public
from daemon.web import create_app

from browsing import (
    CHROMIUM,
    DESKTOP,
    MARKS,
    NARROW,
    PHONE,
    assert_accessible,
    phone,
    with_axe,
)
from dashboard_data import AUTH, CONFIG_CHANGES, ENV_EXTRA, PASSWORD, crowd, seed
from helpers import ENV, REPO, merge, plant, query, write_business
from live_vouch import LiveVouch
from smtp_server import SmtpServer

pytestmark = MARKS

if CHROMIUM.exists():
    from playwright.sync_api import Browser, BrowserContext, Page, expect

SITES = [{"name": "Google", "url": "https://g.page/r/harborlane-example/review"}]
SIZES = ("phone", "desktop", "narrow-dark")
#: The survey people answer on the page (maya), one they can no longer (ann), one answered
#: with a comment (liam), and two that unsubscribe (una: the confirm page; ulla: done).
PEOPLE = ("maya", "ann", "liam", "una", "ulla")
CROWD = 60  # new referrals more than the seeded three: the pipeline page must still fit


@dataclass
class Site:
    """The running business and the ways into it that the pages need."""

    live: LiveVouch
    code: str  # Olivia's referral code (an advocate with referrals)
    referral: str
    partner: str
    email_row: int
    customer: str  # a customer's public id (Olivia: timeline, referrals, rewards)
    surveys: list[str]
    invitation: dict[str, str]  # by person: the invitation's public id
    unsubscribe: dict[str, str]  # by person: the unsubscribe token
    public_link: str  # the post-purchase survey's public link (its path)
    public_confirm: str  # the confirmation link of an answer typed in a customer's name
    checked: dict[str, str] = field(default_factory=dict)  # PAGES entry: the path it reached

    def survey(self, who: str, score: int | None = None) -> str:
        assert self.live.loop is not None
        return f"/s/{survey_token(self.live.loop.services.signer, self.invitation[who], score)}"


def _make(folder: Path) -> Callable[[SmtpServer, str], Config]:
    def make(smtp: SmtpServer, url: str) -> Config:
        changes = {
            "business": {"public_url": url},
            "email": {
                "transport": "smtp",
                "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
            },
            "reviews": {"sites": SITES},
            "referrals": {"introductions_per_hour": 1000},
            # every page from one address, on a clock that stands still
            "server": {"public_rate_per_minute": 100_000, "public_burst": 100_000},
        }
        path = write_business(folder, merge(CONFIG_CHANGES, changes))
        survey = folder / "surveys" / "post_purchase.toml"  # offered through a public link
        survey.write_text("public = true\n" + survey.read_text(encoding="utf-8"))
        return load_config(path, {**ENV, **ENV_EXTRA}, need_secrets=True)

    return make


async def _prepare(loop: Loop, live: LiveVouch) -> Site:
    services, client = loop.services, loop.client
    seeded = await seed(services, client)
    await crowd(services, CROWD)  # a busy season: 60 new referrals more
    for who in PEOPLE:
        await loop.event("purchase.completed", f"{who}@example.com", "2026-03-02T09:00:00Z")
    await loop.travel(timedelta(days=4), step=timedelta(hours=6))
    store = services.store
    invitation, unsubscribe = {}, {}
    for who in PEOPLE:
        customer = await store.customer_by_email(f"{who}@example.com")
        assert customer is not None
        ((public_id,),) = query(
            store, "SELECT public_id FROM invitations WHERE customer_id = ?", (customer.id,)
        )
        invitation[who] = str(public_id)
        unsubscribe[who] = unsubscribe_token(services.signer, customer.public_id)
    closed = invitation["ann"]
    plant(store, "UPDATE invitations SET expires_at = sent_at WHERE public_id = ?", (closed,))
    token = survey_token(services.signer, invitation["liam"], None)
    form = {"score": "6", "comment": "The van blocked our drive all week.", "via": "form"}
    answer = await client.post(f"/s/{token}", data=form)
    assert answer.status_code == 200, answer.text
    partner = {"name": "Harbor Physio", "email": "dana@physio.example", "trade": "physio"}
    answer = await client.post("/v1/partners", json={**partner, "wants": "runners"}, headers=AUTH)
    assert answer.status_code == 201, answer.text
    olivia = await store.customer_by_email("olivia.bennett@example.com")
    assert olivia is not None
    ((row,),) = query(store, "SELECT min(id) FROM outbox WHERE kind = 'survey'")
    typed = await store.add_public_answer(
        NewPublicAnswer("post_purchase", olivia.email, olivia.id, 9, "Lovely work", None),
        loop.clock.now(),
    )
    return Site(
        live=live,
        code=seeded.advocate_code,
        referral=seeded.referrals[0],
        partner=answer.json()["partner"]["id"],
        email_row=int(row),
        customer=olivia.public_id,
        surveys=sorted(services.config.surveys),
        invitation=invitation,
        unsubscribe=unsubscribe,
        public_link=path_of(public.link(services.config, "post_purchase")),
        public_confirm=f"/p/c/{public_answer_token(services.signer, typed.public_id)}",
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with pytest.MonkeyPatch.context() as env:
        for name, value in {**ENV, **ENV_EXTRA}.items():  # the daemon's environment: an edit
            env.setenv(name, value)  # previewed from the dashboard is checked with it
        with LiveVouch(_make(tmp_path_factory.mktemp("a11y") / "biz")) as live:
            yield live.call(lambda loop: _prepare(loop, live))


def _context(browser: Browser, size: str, base_url: str) -> BrowserContext:
    if size == "phone":
        context = phone(browser, base_url)
    elif size == "desktop":
        context = browser.new_context(viewport=DESKTOP, base_url=base_url)
    else:
        context = browser.new_context(
            viewport=NARROW, base_url=base_url, color_scheme="dark", reduced_motion="reduce"
        )
    return with_axe(context)


def log_in(page: Page) -> None:
    page.goto("/admin/login")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="NPS now")).to_be_visible()


@pytest.fixture(scope="module")
def contexts(browser: Browser, site: Site) -> Iterator[dict[str, BrowserContext]]:
    """A context for each size, logged in to the dashboard, reused by every page."""
    made = {size: _context(browser, size, site.live.url) for size in SIZES}
    for context in made.values():
        opened = context.new_page()
        log_in(opened)
        opened.close()
    yield made
    for context in made.values():
        context.close()


# How each page is reached: from a fresh tab of a logged-in context, or from a new one (login).


def _survey_sent(page: Page, site: Site, score: int) -> None:
    page.goto(site.survey("maya", score))
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def _sent_without_score(page: Page, site: Site) -> None:
    page.goto(site.survey("maya"))
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _no_validation(page: Page) -> None:
    """Sends the form as a browser that does not check `required` or `type=email` would, so
    the server's own messages show."""
    page.evaluate("document.querySelector('form').noValidate = true")


def _landing_errors(page: Page, site: Site) -> None:
    page.goto(f"/r/{site.code}")
    _no_validation(page)
    page.locator("#friend_email").fill("not an address")
    page.locator("#friend_phone").fill("call me maybe")
    page.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _public_errors(page: Page, site: Site) -> None:
    page.goto(site.public_link)
    _no_validation(page)
    page.locator("#email").fill("not an address")
    page.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _landing_done(page: Page, site: Site) -> None:
    page.goto(f"/r/{site.code}")
    page.locator("#friend_name").fill("Nina Hart")
    page.locator("#friend_email").fill("nina@example.net")
    page.locator("#need").fill("A garden room")
    page.get_by_role("button").click()
    expect(page.get_by_role("alert")).to_have_count(0)


def _introduce_errors(page: Page, site: Site) -> None:
    page.goto(f"/r/{site.code}/introduce")
    _no_validation(page)
    page.locator("#friend_email").fill("olivia.bennett@example.com")
    page.locator("#friend_phone").fill("call me maybe")
    page.get_by_role("button", name=re.compile("Send|Introduce", re.I)).click()
    expect(page.get_by_role("alert")).to_be_visible()


def _introduce_done(page: Page, site: Site) -> None:
    page.goto(f"/r/{site.code}/introduce")
    page.locator("#friend_name").fill("Omar Reed")
    page.locator("#friend_email").fill("omar@example.net")
    page.get_by_role("button", name=re.compile("Send|Introduce", re.I)).click()
    expect(page.get_by_role("alert")).to_have_count(0)


def _partner_errors(page: Page, site: Site) -> None:
    page.goto("/admin/partners")
    page.evaluate("document.querySelector('form.fields').noValidate = true")
    page.get_by_label("Email address").fill("not an address")
    page.get_by_role("button", name="Add partner").click()
    expect(page.get_by_role("alert").locator('a[href="#f-email"]')).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")


def _unsubscribed(page: Page, site: Site) -> None:
    page.goto(f"/u/{site.unsubscribe['ulla']}")
    if page.get_by_role("button").count():
        page.get_by_role("button").click()


def _login_error(page: Page, site: Site) -> None:
    page.goto("/admin/login")
    page.get_by_label("Password").fill("a wrong password, surely")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _import_checked(page: Page, site: Site) -> None:
    """A file checked with a bad line: the report, nothing imported."""
    page.goto("/admin/data")
    people = b"email,name\nann@example.com,Ann\nnot-an-address,Cy\n"
    page.get_by_label(re.compile(r"^CSV file")).set_input_files(
        {"name": "customers.csv", "mimeType": "text/csv", "buffer": people}
    )
    page.get_by_role("button", name="Check the file").click()
    expect(page.get_by_role("region", name="Problems by line")).to_be_visible()


def _email_previewed(page: Page, site: Site) -> None:
    page.goto("/admin/edit/email/survey")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("region", name="Previews")).to_be_visible()


def _preview_frame(page: Page, site: Site) -> None:
    """The frame of an edit's preview, opened on its own."""
    _email_previewed(page, site)
    source = page.locator("#preview iframe").first.get_attribute("src")
    assert source is not None
    page.goto(source)


def _survey_refused(page: Page, site: Site) -> None:
    """A survey edit `vouch check` refuses: not saved, the problem said."""
    page.goto(f"/admin/edit/survey/{site.surveys[0]}")
    page.get_by_label("The question", exact=True).fill("How was {{ business.name ?")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_be_visible()


def _go(path: Callable[[Site], str]) -> Callable[[Page, Site], None]:
    def go(page: Page, site: Site) -> None:
        page.goto(path(site))

    return go


Reach = Callable[[Page, Site], None]


def _chosen(score: int) -> Reach:
    return _go(lambda site: site.survey("maya", score))


def _sent(score: int) -> Reach:
    return lambda page, site: _survey_sent(page, site, score)


def _preview(segment: Segment, page: str) -> Reach:
    return _go(lambda site: f"/admin/templates/pages/{site.surveys[0]}/{segment.value}/{page}")


def _email(kind: str, locale: str | None) -> Reach:
    return _go(
        lambda site: f"/admin/templates/{kind}/html" + (f"?locale={locale}" if locale else "")
    )


PUBLIC: dict[str, Reach] = {
    **{
        f"survey, {s.value} chosen": _chosen(n)
        for s, n in ((Segment.PROMOTER, 9), (Segment.PASSIVE, 8), (Segment.DETRACTOR, 3))
    },
    "survey, no score yet": _go(lambda site: site.survey("maya")),
    "survey, answered with a comment": _go(lambda site: site.survey("liam")),
    "survey, sent without a score": _sent_without_score,
    **{
        f"thank-you, {s.value}": _sent(n)
        for s, n in ((Segment.PROMOTER, 10), (Segment.PASSIVE, 7), (Segment.DETRACTOR, 2))
    },
    "survey, closed": _go(lambda site: site.survey("ann", 9)),
    "survey, invalid link": _go(lambda site: "/s/not-a-real-token"),
    "unsubscribe, confirm": _go(lambda site: f"/u/{site.unsubscribe['una']}"),
    "unsubscribe, done": _unsubscribed,
    "referral landing": _go(lambda site: f"/r/{site.code}"),
    "referral landing, errors": _landing_errors,
    "referral landing, done": _landing_done,
    "introduce form": _go(lambda site: f"/r/{site.code}/introduce"),
    "introduce form, errors": _introduce_errors,
    "introduce form, done": _introduce_done,
    "education page": _go(lambda site: f"/r/{site.code}/learn"),
    "public survey link": _go(lambda site: site.public_link),
    "public survey link, errors": _public_errors,
    "public answer, confirm": _go(lambda site: site.public_confirm),
}
OWNER: dict[str, Reach] = {
    "dashboard": _go(lambda site: "/admin"),
    "referral pipeline": _go(lambda site: "/admin/referrals"),
    "referrals of one status": _go(lambda site: "/admin/referrals/status/new?page=2"),
    "sending": _go(lambda site: "/admin/sending"),
    "reports": _go(lambda site: "/admin/reports"),
    "complaints": _go(lambda site: "/admin/complaints"),
    "advocates": _go(lambda site: "/admin/advocates"),
    "partners": _go(lambda site: "/admin/partners"),
    "partners, with errors": _partner_errors,
    "partner": _go(lambda site: f"/admin/partners/{site.partner}"),
    "customer search": _go(lambda site: "/admin/customers?email=example.com"),
    "customer": _go(lambda site: f"/admin/customers/{site.customer}"),
    "referral": _go(lambda site: f"/admin/referrals/{site.referral}"),
    "sent email": _go(lambda site: f"/admin/emails/{site.email_row}"),
    "sent email, its HTML": _go(lambda site: f"/admin/emails/{site.email_row}/html"),
    "templates": _go(lambda site: "/admin/templates"),
    **{
        f"page preview, {s.value} {p}": _preview(s, p)
        for s in Segment
        for p in ("survey", "thanks")
    },
    "rewards": _go(lambda site: "/admin/rewards"),
    "reviews": _go(lambda site: "/admin/reviews"),
    "users": _go(lambda site: "/admin/users"),
    "account": _go(lambda site: "/admin/account"),
    "not found": _go(lambda site: "/admin/customers/" + "0" * 32),
    "import and export": _go(lambda site: "/admin/data"),
    "import, checked with a bad line": _import_checked,
    "upcoming": _go(lambda site: "/admin/upcoming"),
    "upcoming, not sent": _go(lambda site: "/admin/upcoming/not-sent"),
    "edit words": _go(lambda site: "/admin/edit"),
    "edit an email": _go(lambda site: "/admin/edit/email/survey?locale=fr"),
    "edit an email, previewed": _email_previewed,
    "edit preview, its frame": _preview_frame,
    "edit a survey": _go(lambda site: f"/admin/edit/survey/{site.surveys[0]}"),
    "edit a survey, refused": _survey_refused,
    "edit the education page": _go(lambda site: "/admin/edit/education"),
}
#: Reached from a context that is not logged in.
LOGGED_OUT: dict[str, Reach] = {
    "login": _go(lambda site: "/admin/login"),
    "login, wrong password": _login_error,
}


def _languages(kind: str) -> list[str]:
    """The languages an email kind has its own HTML template in (e.g. survey.fr.html)."""
    return sorted(p.suffixes[0][1:] for p in (REPO / "templates" / "email").glob(f"{kind}.*.html"))


#: Every email kind with its sample data (as the templates page previews it), in English and
#: in each language it has its own template for.
EMAILS: dict[str, Reach] = {
    f"email {kind}{f', {locale}' if locale else ''}": _email(kind, locale)
    for kind in KINDS
    for locale in (
        None,
        *sorted(p.suffixes[0][1:] for p in (REPO / "templates" / "email").glob(f"{kind}.*.html")),
    )
}
PAGES = {**PUBLIC, **OWNER, **LOGGED_OUT, **EMAILS}


def _reach(name: str, contexts: dict[str, BrowserContext], size: str, site: Site) -> Page:
    """The page `name` in a tab of the size's logged-in context (its one tab, each page going
    there in turn: a new tab per page cost a fifth of the check), or of a new context for
    a logged-out page; `_leave` it after."""
    if name in LOGGED_OUT:
        context = _context(contexts[size].browser, size, site.live.url)  # type: ignore[arg-type]
        page = context.new_page()
    else:
        context = contexts[size]
        page = context.pages[0] if context.pages else context.new_page()
    PAGES[name](page, site)
    site.checked[name] = page.url.removeprefix(site.live.url)
    return page


def _leave(page: Page, name: str) -> None:
    """Closes a logged-out page's context; a logged-in tab stays open for the next page."""
    if name in LOGGED_OUT:
        page.context.close()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", PAGES)
def test_page_is_accessible(
    name: str, size: str, contexts: dict[str, BrowserContext], site: Site
) -> None:
    page = _reach(name, contexts, size, site)
    try:
        assert_accessible(page, f"{name} ({size}, {page.url})")
        if size == "narrow-dark":  # reflow: nothing wider than the window, but what scrolls
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= NARROW["width"], f"{name}: {wide} px wide at {NARROW['width']} px"
    finally:
        _leave(page, name)


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    """The app's routes, through the routers it includes (which FastAPI may keep whole)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from _routes(router.routes)


def page_routes(app: Any) -> list[APIRoute]:
    """The app's HTML pages: each GET route left out of the OpenAPI schema, but for those that
    declare they answer with a file or a redirect (the logo, a review site's link). The API's
    routes (JSON, and the metrics' text) are all in the schema; the static files are a mount."""
    return [
        r
        for r in _routes(app.routes)
        if "GET" in (r.methods or ())
        and not r.include_in_schema
        and not _not_a_page(r.response_class)
    ]


def _not_a_page(response_class: Any) -> bool:
    declared = getattr(response_class, "value", response_class)  # FastAPI's Default(...) wraps
    return isinstance(declared, type) and issubclass(declared, FileResponse | RedirectResponse)


def test_every_page_route_is_checked(contexts: dict[str, BrowserContext], site: Site) -> None:
    """A page the app serves that no entry of PAGES reaches fails here, naming its route."""
    assert site.live.loop is not None
    routes = page_routes(create_app(site.live.loop.services))
    assert len(routes) >= 20  # the rule finds the pages (a change to it that finds none fails)
    assert "/v1/referrals" not in {r.path for r in routes}  # and leaves the API out
    for name in PAGES:
        if name not in site.checked:  # this test run alone: reach the page here
            _leave(_reach(name, contexts, "desktop", site), name)
    reached = {path.split("?")[0] for path in site.checked.values()}
    unchecked = [r.path for r in routes if not any(r.path_regex.match(p) for p in reached)]
    assert unchecked == [], f"pages no accessibility test visits: {unchecked}"


# The keyboard alone, what a screen reader is told, and the reader's settings.

FOCUS_SHOWN = """() => {
    const el = document.activeElement;
    const ring = el.matches('.score input') ? el.nextElementSibling : el;
    return getComputedStyle(ring).outlineStyle !== 'none';
}"""


def _tab(page: Page) -> str:
    """Tab to the next stop: its id (else its name or role), failing if focus is not shown."""
    page.keyboard.press("Tab")
    stop: str = page.evaluate(
        "() => { const el = document.activeElement;"
        " return el.id || el.getAttribute('name') || el.tagName.toLowerCase(); }"
    )
    assert page.evaluate(FOCUS_SHOWN), f"{stop} has the focus, but no visible outline"
    return stop


def test_the_survey_is_answered_with_the_keyboard_alone(
    contexts: dict[str, BrowserContext], site: Site
) -> None:
    page = contexts["desktop"].new_page()
    try:
        page.goto(site.survey("liam"))  # a score given before: the radio group's stop is it
        ends = ("0 (Not at all likely)", "10 (Extremely likely)")
        for name in ends:  # the ends of the scale, said with their score
            expect(page.get_by_role("radio", name=name, exact=True)).to_have_count(1)
        assert _tab(page) == "score"
        assert page.evaluate("document.activeElement.value") == "6"
        for _ in range(3):
            page.keyboard.press("ArrowRight")  # arrows move along the scale, choosing
        expect(page.get_by_role("radio", name="9", exact=True)).to_be_checked()
        assert _tab(page) == "comment"
        page.keyboard.press("Control+A")
        page.keyboard.type("Sorted out the van in the end.")
        assert _tab(page) == "button"
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
    finally:
        page.close()


def test_the_introduce_form_is_sent_with_the_keyboard_alone(
    contexts: dict[str, BrowserContext], site: Site
) -> None:
    """In the order the form reads, with its errors announced, tied to their fields, and
    linked from a summary that takes the focus to the field."""
    page = contexts["desktop"].new_page()
    try:
        page.goto(f"/r/{site.code}/introduce")
        assert _tab(page) == "friend_name"
        page.keyboard.type("Pat Lee")
        page.keyboard.press("Enter")  # no email and no phone: the server says so
        summary = page.get_by_role("alert")
        expect(summary).to_contain_text("please give an email address or a phone number")
        field = page.get_by_label("Their email")
        expect(field).to_have_attribute("aria-invalid", "true")
        expect(field).to_have_accessible_description(re.compile("please give an email"))
        colour = "getComputedStyle(document.getElementById('friend_email')).borderTopColor"
        assert page.evaluate(colour) == "rgb(185, 28, 28)"  # outlined in the error's red
        assert _tab(page) == "a"  # the summary's link comes first
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "friend_email"
        page.keyboard.type("pat@example.net")
        order = [  # as the form reads; a radio group is one stop
            "friend_phone",
            "need",
            "timing",
            "relationship",
            "expects_contact",
            "advocate_introduces",
            *(["reward_choice"] if page.locator("#reward_choice").count() else []),
            "public_thanks_ok",
            "button",
        ]
        assert [_tab(page) for _ in order] == order
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Thank you, Olivia!")).to_be_visible()
    finally:
        page.close()


def test_charts_have_a_text_equivalent(contexts: dict[str, BrowserContext], site: Site) -> None:
    """Each chart is an image whose name says what it shows and whose description gives its
    figures, which a screen reader reads."""
    page = contexts["desktop"].new_page()
    try:
        for path, count in (("/admin", 2), ("/admin/reports", 1)):  # trend, scores; life cycle
            page.goto(path)
            charts = page.locator("svg.chart")
            assert charts.count() == count
            for chart in charts.all():
                expect(chart).to_have_role("img")
                expect(chart).to_have_accessible_name(re.compile(r"\w"))
                expect(chart).to_have_accessible_description(re.compile(r"\d"))
    finally:
        page.close()


def test_the_pages_follow_the_readers_colours_and_motion(
    contexts: dict[str, BrowserContext], site: Site
) -> None:
    """The dark scheme where the reader asked for it (its contrast is checked by axe in
    test_page_is_accessible), and links to a field that glide there, but not for a reader who
    asked for less motion."""
    looks = {}
    for size in ("desktop", "narrow-dark"):
        page = contexts[size].new_page()
        page.goto(site.survey("maya", 9))
        looks[size] = page.evaluate(
            "[getComputedStyle(document.body).backgroundColor,"
            " getComputedStyle(document.documentElement).scrollBehavior]"
        )
        page.close()
    assert looks == {
        "desktop": ["rgb(244, 244, 245)", "smooth"],
        "narrow-dark": ["rgb(17, 24, 39)", "auto"],
    }


def test_headings_get_smaller_by_level(contexts: dict[str, BrowserContext], site: Site) -> None:
    """The education page's sections (h2) read as parts of its title (h1), not above it."""
    page = contexts["phone"].new_page()
    try:
        page.goto(f"/r/{site.code}/learn")
        sizes = page.evaluate(
            "['h1', 'h2'].map(tag => Array.from(document.querySelectorAll(tag),"
            " el => parseFloat(getComputedStyle(el).fontSize)))"
        )
        (title,), sections = sizes
        assert sections and max(sections) < title, sizes
    finally:
        page.close()


# How long and how wide each dashboard page is, with the seeded business in it.

SCREENS = 3  # no dashboard page longer than three screens of a laptop (issue 14)
MIN_LABEL_PX = 11  # the smallest chart label a phone shows, in CSS pixels as drawn
#: The smallest drawn font of the page's chart labels: an SVG's text is scaled with its
#: viewBox, so its font size times the scale it is drawn at.
SMALLEST_LABEL = """() => Math.min(Infinity, ...[...document.querySelectorAll('svg text')]
    .filter(t => t.getClientRects().length)
    .map(t => parseFloat(getComputedStyle(t).fontSize) * t.getScreenCTM().a))"""


@pytest.mark.parametrize("name", OWNER)
def test_dashboard_page_fits_the_screen(
    name: str, contexts: dict[str, BrowserContext], site: Site
) -> None:
    """At 1280x900 a dashboard page is at most three screens long; on a 390 px phone it never
    scrolls sideways (a wide table or chart scrolls inside its card) and its chart labels are
    drawn at 11 px or more."""
    problems = []
    page = _reach(name, contexts, "desktop", site)
    try:
        high = page.evaluate("document.documentElement.scrollHeight")
        if high > SCREENS * DESKTOP["height"]:
            problems.append(f"{high} px long at 1280x900")
    finally:
        _leave(page, name)
    page = _reach(name, contexts, "phone", site)
    try:
        wide = page.evaluate("document.documentElement.scrollWidth")
        if wide > PHONE["width"]:
            problems.append(f"{wide} px wide on a 390 px phone")
        smallest = page.evaluate(SMALLEST_LABEL)
        if smallest < MIN_LABEL_PX:
            problems.append(f"a chart label drawn at {smallest:.1f} px on a phone")
    finally:
        _leave(page, name)
    assert problems == [], f"{name}: {'; '.join(problems)}"
