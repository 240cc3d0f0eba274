"""The NPS survey loop end to end: event → survey in the send window → one-click answer →
segment, alerts, unsubscribe, reminders; with a fake clock and a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from loop import Loop, html_of, path_of, score_links, text_of

from daemon.clock import FakeClock
from daemon.config import Config
from daemon.metrics import Metrics
from daemon.render import Renderer
from daemon.services import Services
from daemon.store import SQLiteStore
from daemon.web import create_app

from smtp_server import SmtpServer

OWNER = "owner@harborlane.example"


@pytest.fixture
async def loop(
    make_config: object, smtp_server: SmtpServer, tmp_path: object
) -> AsyncIterator[Loop]:
    smtp = {"host": smtp_server.host, "port": smtp_server.port, "security": "none"}
    config: Config = make_config({"email": {"transport": "smtp", "smtp": smtp}})  # type: ignore[operator]
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # a Monday
    store = await SQLiteStore.open(config.store_path)
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as client:
        loop = Loop.build(services, smtp_server, client)
        yield loop
        await loop.sender.transport.aclose()
    await store.close()


async def invitations(loop: Loop) -> list[tuple[str, str | None, str | None]]:
    store = loop.services.store
    assert isinstance(store, SQLiteStore)
    rows = await store._read("SELECT survey, state, reason FROM invitations ORDER BY id")
    return [(r[0], r[1], r[2]) for r in rows]


async def responses(loop: Loop) -> list[tuple[int, str, str | None, str]]:
    store = loop.services.store
    assert isinstance(store, SQLiteStore)
    rows = await store._read("SELECT score, segment, comment, source FROM responses ORDER BY id")
    return [(r[0], r[1], r[2], r[3]) for r in rows]


async def test_purchase_to_promoter_answer(loop: Loop) -> None:
    await loop.event(
        "purchase.completed", "ann@example.com", "2026-03-02T10:00:00Z", timezone="Europe/London"
    )
    await loop.travel(timedelta(days=2, hours=23))
    assert loop.new_mail() == []  # never at the cash register: three days later
    await loop.travel(timedelta(hours=2))
    (survey,) = loop.new_mail()
    assert survey["To"].addresses[0].addr_spec == "ann@example.com"
    assert survey["Subject"] == "Quick question from Harbor Lane Renovations"
    sent = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
    assert survey["Date"].datetime.astimezone(UTC) <= sent + timedelta(hours=1)
    # one-click answers in both parts, unsubscribe in the headers (RFC 8058) and the body
    links = score_links(survey)
    assert sorted(links) == list(range(11))
    html = html_of(survey)
    for url in links.values():
        assert f'href="{url}"' in html
    assert survey["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.search(r"<(http[^>]+/u/[^>]+)>", survey["List-Unsubscribe"])
    assert unsubscribe and unsubscribe.group(1) in text_of(survey)

    # the customer clicks 9: the page shows it chosen and asks the promoter's follow-up
    page = await loop.client.get(path_of(links[9]))
    assert page.status_code == 200
    assert 'value="9" checked' in page.text
    assert "Wonderful! What did we do best?" in page.text
    assert await responses(loop) == []  # a GET records nothing
    thanks = await loop.client.post(
        path_of(links[9]), data={"score": "9", "comment": "Great crew", "via": "form"}
    )
    assert thanks.status_code == 200 and "Thank you!" in thanks.text
    assert await responses(loop) == [(9, "promoter", "Great crew", "page")]

    # answering again updates the one response
    await loop.client.post(path_of(links[9]), data={"score": "10", "comment": "", "via": "form"})
    assert await responses(loop) == [(10, "promoter", "Great crew", "page")]

    await loop.travel(timedelta(days=10), step=timedelta(hours=6))
    assert loop.new_mail() == []  # answered: no reminder
    assert await invitations(loop) == [("post_purchase", "answered", None)]
