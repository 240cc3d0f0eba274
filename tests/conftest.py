"""Shared fixtures: a business folder in a temp dir (real templates copied from the repo),
a real SQLite store, a fake clock, and the services wired together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.clock import FakeClock
from daemon.config import Config, load_config
from daemon.metrics import Metrics
from daemon.render import Renderer
from daemon.services import Services
from daemon.store import SQLiteStore

from helpers import ENV, write_business
from smtp_fixtures import smtp_server, smtp_server_starttls, smtp_tls, threaded_smtp_server

__all__ = ["smtp_server", "smtp_server_starttls", "smtp_tls", "threaded_smtp_server"]


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


@pytest.fixture
async def store(config: Config) -> AsyncIterator[SQLiteStore]:
    opened = await SQLiteStore.open(config.store_path)
    opened.erasure_keys = config.secrets.signing_keys  # as Services gives it, for `forget`
    yield opened
    await opened.close()


@pytest.fixture
def services(config: Config, store: SQLiteStore, clock: FakeClock) -> Services:
    return Services(config, Renderer(config, clock), store, clock, Metrics())
