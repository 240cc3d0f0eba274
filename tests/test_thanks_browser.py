"""The promoter's thank-you page on a phone, in a real browser (Playwright driving Debian's
Chromium against the real app on a loopback port, tests/live_vouch.py): it renders under the
page's CSP without a console error, and its copy button puts the referral link on the clipboard.

The screenshot goes to $VOUCH_SCREENSHOTS when it is set (`make screenshots` writes docs/).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from loop import Loop, path_of, score_links
from test_dashboard_browser import shots

from daemon.config import Config, load_config

from browsing import CHROMIUM, MARKS, phone, watch
from helpers import ENV, query, write_business
from live_vouch import LiveVouch
from smtp_server import SmtpServer

__all__ = ["shots"]  # the dashboard's fixture, shared

pytestmark = MARKS

if CHROMIUM.exists():
    from playwright.sync_api import Browser, expect

SITES = [
    {"name": "Google", "url": "https://g.page/r/harborlane-example/review"},
    {"name": "Houzz", "url": "https://www.houzz.example/pro/harborlane"},
]


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveVouch]:
    def make(smtp: SmtpServer, url: str) -> Config:
        changes = {
            "business": {"public_url": url},
            "email": {
                "transport": "smtp",
                "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
            },
            "reviews": {"sites": SITES},
        }
        return load_config(write_business(tmp_path / "biz", changes), ENV, need_secrets=True)

    with LiveVouch(make) as running:
        yield running


def test_a_promoter_shares_their_link_from_a_phone(
    browser: Browser, live: LiveVouch, shots: Path
) -> None:
    async def survey_arrives(loop: Loop) -> None:
        await loop.event(
            "purchase.completed", "maya@example.com", "2026-03-02T09:00:00Z", name="Maya Patel"
        )
        await loop.travel(timedelta(days=4), step=timedelta(hours=6))

    live.call(survey_arrives)
    (survey,) = live.mail_to("maya@example.com")
    link = path_of(score_links(survey)[10])
    on_phone = phone(browser, live.url)
    try:
        granted = True
        try:
            on_phone.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
        except Exception:  # a browser that cannot grant it: the copy button is not checked
            granted = False
        page = on_phone.new_page()
        errors = watch(page)
        page.goto(link)
        page.get_by_role("button", name="Send").click()
        expect(page.get_by_role("heading", name="Thank you!")).to_be_visible()
        expect(page.get_by_role("link", name="Google")).to_have_attribute("href", SITES[0]["url"])
        expect(page.get_by_role("link", name="Send on WhatsApp")).to_be_visible()
        expect(page.get_by_role("img", name="A QR code of your link")).to_be_visible()

        async def code(loop: Loop) -> str:
            store = loop.services.store
            (row,) = query(store, "SELECT code FROM advocates")
            return str(row[0])

        url = f"{live.url}/r/{live.call(code)}?via=thanks"  # the funnel's channel
        expect(page.locator("#referral-url")).to_have_value(url)
        copy = page.get_by_role("button", name="Copy link")
        expect(copy).to_be_visible()  # shown by the page's script: it ran under the CSP
        page.screenshot(path=str(shots / "thanks-phone.png"), full_page=True)
        if granted:
            copy.click()
            expect(page.get_by_role("button", name="Copied")).to_be_visible()
            assert page.evaluate("navigator.clipboard.readText()") == url
    finally:
        on_phone.close()
    assert errors == []
