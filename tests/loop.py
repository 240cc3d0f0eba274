"""A whole Vouch in one test: real app (HTTP client), real store, real templates, scheduler,
sender over real SMTP to a recording aiosmtpd server, and a fake clock to travel with."""

from __future__ import annotations

import contextlib
import dataclasses
import email
import email.policy
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from functools import partial
from typing import Any

import httpx
import tomlkit

from daemon.clock import FakeClock
from daemon.config import Config
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.scheduler import Scheduler
from daemon.run.sender import Sender
from daemon.run.services import Services, open_store
from daemon.surveys import survey_email
from daemon.transport import build_transport
from daemon.transport.webhook import WebhookTransport
from daemon.web import create_app

from helpers import TOKEN
from smtp_server import SmtpServer

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def on_store(config: Config, url: str | None) -> Config:
    """`config` with its store at `url` (a PostgreSQL database), or as it is when None; its
    config.toml says so too, as an owner's would, so a `vouch` command run on the business
    (and a reload) finds the same store."""
    if url is None:
        return config
    document = tomlkit.parse(config.path.read_text(encoding="utf-8"))
    if document.get("store", {}).get("url") != url:
        document.setdefault("store", tomlkit.table())["url"] = url
        config.path.write_text(tomlkit.dumps(document), encoding="utf-8")
    store = config.settings.store.model_copy(update={"url": url})
    return dataclasses.replace(config, settings=config.settings.model_copy(update={"store": store}))


@contextlib.asynccontextmanager
async def running(
    config: Config, smtp: SmtpServer, store_url: str | None = None
) -> AsyncIterator[Loop]:
    """The whole of Vouch on `config` (its transport pointed at `smtp`), from Monday 2 March,
    on the business's SQLite file or, given `store_url` (the `store_url` fixture), on that
    PostgreSQL database; opened as the daemon opens its store."""
    config = on_store(config, store_url)
    clock = FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    store = await open_store(config)
    services = Services(config, Renderer(config, clock), store, clock, Metrics())
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://vouch.test") as client:
        loop = Loop.build(services, smtp, client)
        try:
            yield loop
        finally:
            await loop.sender.transport.aclose()
            if loop.sender.webhooks is not None:
                await loop.sender.webhooks.aclose()
            await store.close()


def smtp_changes(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "email": {
            "transport": "smtp",
            "smtp": {"host": smtp.host, "port": smtp.port, "security": "none"},
        }
    }


@dataclass
class Loop:
    services: Services
    scheduler: Scheduler
    sender: Sender
    client: httpx.AsyncClient
    smtp: SmtpServer
    clock: FakeClock
    seen: int = field(default=0)

    @classmethod
    def build(cls, services: Services, smtp: SmtpServer, client: httpx.AsyncClient) -> Loop:
        assert isinstance(services.clock, FakeClock)
        sender = Sender(
            services.store,
            build_transport(services.config, services.clock),
            services.clock,
            services.config.settings.sender,
            Metrics(),
            webhooks=WebhookTransport(lambda: services.config, services.clock),
            render=partial(survey_email.render_claimed, services),
        )
        return cls(services, Scheduler(services), sender, client, smtp, services.clock)

    async def event(self, type_: str, email_: str, when: str, **extra: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "id": extra.pop("id", f"{type_}-{email_}-{when}"),
            "type": type_,
            "occurred_at": when,
            "customer": {"email": email_, "name": extra.pop("name", "Ann Example"), **extra},
        }
        answer = await self.client.post("/v1/events", json=body, headers=AUTH)
        assert answer.status_code == 202, answer.text
        return answer

    async def run(self) -> None:
        """What the daemon does in a moment: the scheduler's sweeps, then the sender's."""
        await self.scheduler.tick()
        await self.sender.drain()

    async def travel(self, delta: timedelta, step: timedelta = timedelta(hours=1)) -> None:
        """Move through time in steps, letting the daemon work at each, as it would."""
        end = self.clock.now() + delta
        while self.clock.now() < end:
            self.clock.advance(min(step, end - self.clock.now()))
            await self.run()

    def mail(self) -> list[EmailMessage]:
        return [m.message() for m in self.smtp.handler.messages]

    def new_mail(self) -> list[EmailMessage]:
        """Messages received since the last call."""
        messages = self.mail()[self.seen :]
        self.seen += len(messages)
        return messages


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def score_links(message: EmailMessage) -> dict[int, str]:
    """The eleven score links of a survey email's text part, by score."""
    found = re.findall(r"^(\d+): (http\S+)$", text_of(message), flags=re.MULTILINE)
    return {int(score): url for score, url in found}


def path_of(url: str) -> str:
    return httpx.URL(url).raw_path.decode()


def parse(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)
