"""The thank-you page after a survey answer: a promoter (only a promoter) is offered the owner's
review sites and their own referral link, to share by text, WhatsApp or email or to show as a QR
code; the page itself sends nothing. Real app, real store, real SMTP, fake clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest
import segno
from loop import AUTH, Loop, path_of, running, score_links, smtp_changes
from test_dashboard import login

from daemon.config import Config, load_config
from daemon.errors import ConfigError

from dashboard_data import CONFIG_CHANGES, ENV_EXTRA
from helpers import ENV, merge, query, write_business
from smtp_server import SmtpServer

BUSINESS = 'Zoë\'s "Decks" & Co? #1'
NAME = 'Zoë&"Jo"?#1 Ng'  # the first name, used to sign the email, is everything before the space
FIRST = 'Zoë&"Jo"?#1'
SITES = [
    {"name": "Google", "url": "https://g.page/r/zoe-decks/review"},
    {"name": "Houzz <b>& Co</b>", "url": "https://houzz.example/pro?a=1&b=2"},
]
CHANGES: dict[str, Any] = {"business": {"name": BUSINESS}, "reviews": {"sites": SITES}}
UNRESERVED = re.compile(r"^[A-Za-z0-9%._~-]*$")  # what is left once everything else is encoded


@pytest.fixture
def loop_config(make_config: Callable[..., Config], loop_smtp: SmtpServer) -> Config:
    return make_config(merge(CHANGES, smtp_changes(loop_smtp)))


class Page(HTMLParser):
    """The parts of the thank-you page a person acts on, as a browser reads them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: dict[str, str] = {}  # link text → href
        self.classes: dict[str, str] = {}  # a share link's class → href
        self.svg: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.labels: list[str] = []  # aria-label values
        self.copy: dict[str, str | None] | None = None
        self._href: str | None = None
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("aria-label"):
            self.labels.append(found["aria-label"] or "")
        if tag == "a":
            self._href, self._text = found.get("href") or "", ""
            if found.get("class"):
                self.classes[found["class"] or ""] = self._href
        elif tag == "svg":
            self.svg.append(self.get_starttag_text() or "")
        elif tag == "path" and self.svg:
            self.svg.append(found.get("d") or "")
        elif tag == "script":
            self.scripts.append(found)
        elif tag == "button" and found.get("class") == "copy":
            self.copy = found

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links[self._text.strip()] = self._href
            self._href = None


async def answer(loop: Loop, score: int, email: str = "ann@example.com", **who: Any) -> str:
    """A purchase, its survey three days later, and the customer's answer on the page: the
    thank-you page's HTML."""
    links = await survey_links(loop, email, **who)
    page = await loop.client.post(path_of(links[score]), data={"score": str(score), "via": "form"})
    assert page.status_code == 200, page.text
    return page.text


async def survey_links(loop: Loop, email: str = "ann@example.com", **who: Any) -> dict[int, str]:
    await loop.event(
        "purchase.completed", email, "2026-03-02T10:00:00Z", name=who.pop("name", NAME), **who
    )
    await loop.travel(timedelta(days=3, hours=2))
    (survey,) = [m for m in loop.new_mail() if m["To"].addresses[0].addr_spec == email]
    return score_links(survey)


def codes(loop: Loop) -> list[str]:
    store = loop.services.store
    return [r[0] for r in query(store, "SELECT code FROM advocates ORDER BY id")]


def outbox_rows(loop: Loop) -> int:
    store = loop.services.store
    return int(query(store, "SELECT count(*) FROM outbox")[0][0])


def dark_modules(svg_paths: list[str]) -> set[tuple[int, int]]:
    """The dark modules (row, column) an SVG drawn by segno's path ("M x y", "h n", "m dx dy",
    lines through each row's middle) paints, the quiet zone of 4 taken off."""
    x = y = 0.0
    dark: set[tuple[int, int]] = set()
    for d in svg_paths:
        for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?", d):
            if op == "M":
                x, y = float(a), float(b)
            elif op == "m":
                x, y = x + float(a), y + float(b)
            else:
                dark |= {(int(y) - 4, int(x) + i - 4) for i in range(int(a))}
                x += float(a)
    return dark


def modules_of(url: str) -> set[tuple[int, int]]:
    matrix = segno.make(url, error="m", micro=False).matrix
    return {(r, c) for r, row in enumerate(matrix) for c, on in enumerate(row) if on}


async def test_a_promoter_is_offered_reviews_and_their_own_link_to_share(loop: Loop) -> None:
    links = await survey_links(loop)
    before = outbox_rows(loop)
    sent = await loop.client.post(path_of(links[9]), data={"score": "9", "via": "form"})
    assert sent.status_code == 200
    assert outbox_rows(loop) == before  # the page sends nothing, and queues nothing
    html = sent.text
    (code,) = codes(loop)
    url = f"http://vouch.test/r/{code}?via=thanks"  # each way in says so, for the funnel
    page = Page(html)

    # the owner's review sites, as plain links, their names escaped
    assert page.links["Google"] == SITES[0]["url"]
    assert page.links["Houzz <b>& Co</b>"] == SITES[1]["url"]
    assert "Houzz &lt;b&gt;&amp; Co&lt;/b&gt;" in html and "<b>" not in html

    # the referral link, and share links that need no script, all of them fully encoded
    assert f'value="{url}"' in html
    message = f"I was really happy with {BUSINESS} and thought of you: {url}"
    sms, whatsapp, email = (page.classes[k] for k in ("sms", "whatsapp", "email"))
    assert sms.startswith("sms:?&body=")
    assert UNRESERVED.match(sms.removeprefix("sms:?&body="))
    assert unquote(sms.removeprefix("sms:?&body=")) == message
    wa = urlsplit(whatsapp)
    assert (wa.scheme, wa.netloc, wa.path) == ("https", "wa.me", "/")
    assert UNRESERVED.match(wa.query.removeprefix("text="))
    assert parse_qs(wa.query) == {"text": [message]}
    mail = urlsplit(email)
    assert (mail.scheme, mail.path) == ("mailto", "")
    subject, body = mail.query.split("&")
    assert UNRESERVED.match(subject.removeprefix("subject="))
    assert UNRESERVED.match(body.removeprefix("body="))
    assert parse_qs(mail.query) == {
        "subject": [f"A recommendation: {BUSINESS}"],
        "body": [f"{message}\r\n\r\n{FIRST}"],
    }
    assert page.links["Send by text message"] == sms  # said in words a person reads

    # the copy button: hidden until the page's own script (no inline script) shows it
    assert page.copy is not None and page.copy["data-copy"] == url and "hidden" in page.copy
    assert page.scripts == [{"src": "/static/thanks.js", "defer": None}]
    assert (await loop.client.get("/static/thanks.js")).status_code == 200

    # the QR code: inline SVG drawn here, of exactly the referral link, with words for it
    assert page.svg and page.svg[0].startswith('<svg width="') and 'class="qr"' in page.svg[0]
    qr = f"http://vouch.test/r/{code}?via=qr"
    assert dark_modules(page.svg[1:]) == modules_of(qr)
    assert dark_modules(page.svg[1:]) != modules_of(url)
    assert f"A QR code of your link, {qr}" in page.labels  # what the code holds
    assert "<img" not in html and "http://vouch.test/r/" not in html.split("<svg")[1]


@pytest.mark.parametrize("score", [8, 3], ids=["passive", "detractor"])
async def test_passives_and_detractors_are_offered_nothing(loop: Loop, score: int) -> None:
    html = await answer(loop, score)
    page = Page(html)
    assert "vouch.test/r/" not in html and "<svg" not in html and "offer" not in html
    assert not page.scripts and page.copy is None
    assert set(page.links) == {"Change your answer"}
    assert codes(loop) == []  # no advocate either


async def test_the_code_is_minted_once_and_the_second_answer_shows_the_same_link(
    loop: Loop,
) -> None:
    links = await survey_links(loop)
    first = await loop.client.post(path_of(links[9]), data={"score": "9", "via": "form"})
    (code,) = codes(loop)
    second = await loop.client.post(path_of(links[10]), data={"score": "10", "via": "form"})
    assert codes(loop) == [code]
    for page in (first, second):
        assert f'value="http://vouch.test/r/{code}?via=thanks"' in page.text


async def test_a_promoter_answering_by_a_click_in_the_email_is_minted_a_code(loop: Loop) -> None:
    links = await survey_links(loop)
    await loop.client.get(path_of(links[10]))
    await loop.client.post(path_of(links[10]), data={"score": "10", "via": "script"})
    assert codes(loop) == []  # held while a scanner could still show itself
    await loop.travel(timedelta(seconds=20), step=timedelta(seconds=5))
    assert len(codes(loop)) == 1


async def test_a_promoter_answering_by_webhook_is_minted_a_code_and_no_ask_is_sent_for_it(
    loop: Loop,
) -> None:
    await loop.event("purchase.completed", "bo@example.com", "2026-03-02T10:00:00Z")
    answered = await loop.client.post(
        "/v1/responses",
        json={"customer": {"email": "bo@example.com"}, "survey": "post_purchase", "score": 10},
        headers=AUTH,
    )
    assert answered.status_code == 202, answered.text
    assert len(codes(loop)) == 1
    again = await loop.client.post(
        "/v1/responses",
        json={"customer": {"email": "bo@example.com"}, "survey": "post_purchase", "score": 9},
        headers=AUTH,
    )
    assert again.status_code == 202, again.text
    assert len(codes(loop)) == 1
    before = outbox_rows(loop)
    await loop.run()  # the scheduler's sweeps: the code alone makes no referral ask due
    assert outbox_rows(loop) == before


async def test_a_french_customer_shares_in_french(loop: Loop) -> None:
    html = await answer(loop, 10, locale="fr-FR")
    (code,) = codes(loop)
    page = Page(html)
    text = parse_qs(urlsplit(page.classes["whatsapp"]).query)["text"][0]
    assert (
        text
        == f"J’ai vraiment apprécié {BUSINESS} et j’ai pensé à vous : http://vouch.test/r/{code}"
        "?via=thanks"
    )
    assert "Envoyer par SMS" in page.links and "Copier le lien" in html


async def test_switched_off_the_page_offers_nothing_but_the_code_is_kept(
    make_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    off = merge(CHANGES, {"thanks": {"reviews": False, "share": False}})
    async with running(
        make_config(merge(off, smtp_changes(smtp_server))), smtp_server, store_url
    ) as loop:
        html = await answer(loop, 10)
        assert "vouch.test/r/" not in html and "<svg" not in html and "Google" not in html
        assert len(codes(loop)) == 1  # the promoter is an advocate all the same


async def test_only_reviews_or_only_sharing(
    make_config: Callable[..., Config],
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    only_reviews = merge(CHANGES, {"thanks": {"share": False}})
    async with running(
        make_config(merge(only_reviews, smtp_changes(smtp_server))), smtp_server, store_url
    ) as loop:
        html = await answer(loop, 10)
        assert "Google" in Page(html).links and "vouch.test/r/" not in html and "<svg" not in html


def config_problems(tmp_path: Path, changes: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_business(tmp_path, changes), ENV, need_secrets=True)
    return [str(p) for p in caught.value.problems]


def test_check_names_a_bad_review_site_and_a_bad_switch(tmp_path: Path) -> None:
    problems = config_problems(
        tmp_path,
        {
            "reviews": {
                "sites": [
                    {"name": "Google", "url": "javascript:alert(1)"},
                    {"name": "Two\nlines", "url": "https://example.com/review"},
                ]
            },
            "thanks": {"share": "yes please"},
        },
    )
    assert len(problems) == 3, problems
    assert problems[0].startswith("config.toml: reviews.sites.0.url: ")
    assert "http(s)" in problems[0]
    assert problems[1].startswith("config.toml: reviews.sites.1.name: ")
    assert problems[2].startswith("config.toml: thanks.share: ")


def test_the_shipped_config_has_the_thank_you_page_on() -> None:
    from helpers import REPO

    config = load_config(REPO / "config.toml", ENV, need_secrets=True)
    assert config.settings.thanks.reviews and config.settings.thanks.share
    assert [site.example for site in config.settings.reviews.sites] == [True, True]


def test_an_unencoded_share_link_would_be_caught() -> None:
    """The encoding check itself: a raw & or # in a parameter fails it."""
    assert not UNRESERVED.match("Zo%C3%AB&Co")
    assert not UNRESERVED.match("a#b")
    assert httpx.URL("https://wa.me/?text=a%26b").params["text"] == "a&b"


async def test_the_dashboard_previews_the_promoters_offers_with_a_sample_code(
    tmp_path: Path,
    smtp_server: SmtpServer,
    store_url: str | None,
) -> None:
    changes = merge(merge(CHANGES, CONFIG_CHANGES), smtp_changes(smtp_server))
    config = load_config(
        write_business(tmp_path / "dash", changes), {**ENV, **ENV_EXTRA}, need_secrets=True
    )
    async with running(config, smtp_server, store_url) as loop:
        await login(loop.client)
        pages = "/admin/templates/pages/post_purchase"
        promoter = await loop.client.get(f"{pages}/promoter/thanks")
        assert promoter.status_code == 200
        page = Page(promoter.text)
        assert page.links["Google"] == SITES[0]["url"]
        assert 'value="http://vouch.test/r/SAMPLE-CODE?via=thanks"' in promoter.text
        assert dark_modules(page.svg[1:]) == modules_of("http://vouch.test/r/SAMPLE-CODE?via=qr")
        assert page.scripts == []  # the preview's frame runs no script
        for other in ("passive", "detractor"):
            shown = await loop.client.get(f"{pages}/{other}/thanks")
            assert "Google" not in shown.text and "<svg" not in shown.text
        assert codes(loop) == []  # a preview mints nothing
