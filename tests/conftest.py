"""Shared fixtures: a business folder in a temp dir (real templates copied from the repo),
a real store (its SQLite file, and a fresh PostgreSQL database when a server is given: each
test that takes `store`, `services` or `loop` runs on both), a fake clock, the services wired
together, and the whole of Vouch running (`loop`, tests/loop.py), which a module points at its
own business by overriding `loop_config`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from loop import Loop, on_store, running, smtp_changes
from postgres import SKIPPED, URL, fresh_database, postgres_url, shared_store

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.mail.render import Renderer
from daemon.run.metrics import Metrics
from daemon.run.services import Services, open_store
from daemon.store import SQLiteStore, Store
from daemon.store.outbox import Outbox, OutboxPG
from daemon.store.pgdb import PGDB

from browsing import ARGS, CHROMIUM
from helpers import ENV, write_business
from smtp_fixtures import smtp_server, smtp_server_starttls, smtp_tls, threaded_smtp_server
from smtp_server import SmtpServer

# No timed tests: a property holds however busy the machine is (hypothesis's default deadline
# of 200 ms an example failed render tests on a loaded 2-core machine, not the code).
settings.register_profile("vouch", deadline=None)
settings.load_profile("vouch")

__all__ = [
    "postgres_url",
    "shared_store",
    "smtp_server",
    "smtp_server_starttls",
    "smtp_tls",
    "threaded_smtp_server",
]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say plainly when the PostgreSQL half did not run, and how to run it."""
    if not URL:
        skipped = [
            r for r in terminalreporter.stats.get("skipped", []) if SKIPPED in str(r.longrepr)
        ]
        if skipped:
            terminalreporter.write_line(f"skipped {len(skipped)} tests of {SKIPPED}")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def make(changes: dict[str, Any] | None = None) -> Config:
        return load_config(write_business(tmp_path / "biz", changes), ENV, need_secrets=True)

    return make


@pytest.fixture
def config(make_config: Callable[..., Config]) -> Config:
    return make_config()


@pytest.fixture(params=["sqlite", "postgresql"])
async def store_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """Which store a test runs on: None for the business's SQLite file, or the URL of a fresh
    PostgreSQL database at this Vouch's schema (skipped without a server: tests/postgres.py).
    Every test that takes `store`, `services` or `loop` runs once on each; a test that runs
    Vouch itself (`running`) takes this and passes it on."""
    if request.param == "sqlite":
        yield None
        return
    if only := request.node.get_closest_marker("sqlite_only"):
        pytest.skip(f"SQLite only: {only.args[0]}")
    async with fresh_database(migrated=True) as url:
        yield url


@pytest.fixture
async def store(config: Config, store_url: str | None) -> AsyncIterator[Store]:
    """The business's store, opened as the daemon opens it (`open_store`), once per backend."""
    opened = await open_store(on_store(config, store_url))
    opened.erasure_keys = config.secrets.signing_keys  # as Services gives it, for `forget`
    yield opened
    await opened.close()


@pytest.fixture
def concerns(store: Store) -> Store:
    """The whole store, once per backend (the name the per-concern tests know it by)."""
    return store


@pytest.fixture(params=["sqlite", "postgresql"])
async def outbox(request: pytest.FixtureRequest, config: Config) -> AsyncIterator[Outbox]:
    """The outbox alone, once per backend that has it (the PostgreSQL half is skipped without
    a server: see tests/postgres.py)."""
    if request.param == "sqlite":
        opened = await SQLiteStore.open(config.store_path)
        yield opened
        await opened.close()
        return
    async with fresh_database(migrated=True) as url:
        pg = OutboxPG(await PGDB.connect(url), url)
        yield pg
        await pg.close()


@pytest.fixture
def services(config: Config, store: Store, store_url: str | None, clock: FakeClock) -> Services:
    return Services(on_store(config, store_url), Renderer(config, clock), store, clock, Metrics())


@pytest.fixture
def loop_smtp(smtp_server: SmtpServer) -> SmtpServer:
    """The recording SMTP server `loop` sends to; a module overrides it for another kind."""
    return smtp_server


@pytest.fixture
def loop_config(make_config: Callable[..., Config], loop_smtp: SmtpServer) -> Config:
    """The business `loop` runs: the default one, sending to `loop_smtp`. A module overrides
    this fixture to run its own."""
    return make_config(smtp_changes(loop_smtp))


@pytest.fixture
async def loop(
    loop_config: Config, loop_smtp: SmtpServer, store_url: str | None
) -> AsyncIterator[Loop]:
    """The whole of Vouch on `loop_config`, from Monday 2 March (tests/loop.py), once per
    backend."""
    async with running(loop_config, loop_smtp, store_url) as ran:
        yield ran


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests last (in their order): while the one browser is open, Playwright's
    sync API keeps an event loop running in this thread, which the asyncio tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright, once for the whole run: each browser test
    module opens its own contexts (cheap) in it (tests/browsing.py)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()
