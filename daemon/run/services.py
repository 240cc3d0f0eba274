"""The handles every part of the daemon needs, passed down (never module globals).

`config` and `renderer` are swapped together on a reload (SIGHUP); everything else lives as
long as the process.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from daemon.clock import Clock, SystemClock
from daemon.config import Config
from daemon.mail.render import Renderer
from daemon.mail.stamp import Stamps
from daemon.mail.tokens import Signer
from daemon.requests_first import Pressure
from daemon.run.health import Health
from daemon.run.metrics import Metrics
from daemon.store import SQLiteStore, Store


def _nothing() -> None:
    return None


async def _always() -> bool:
    return True


@dataclass
class Services:
    config: Config
    renderer: Renderer
    store: Store
    clock: Clock
    metrics: Metrics
    #: "there is work": the daemon wakes its scheduler and sender; a CLI command does nothing
    nudge: Callable[[], None] = field(default=_nothing)
    #: requests being served, that background work gives way to
    pressure: Pressure = field(default_factory=Pressure)
    #: whether the loops make progress, for /healthz and /metrics
    health: Health = field(default_factory=Health)
    #: where the secrets were read from: the owner's files are checked again with them when
    #: an edit from the dashboard is put in force (run/checked.py)
    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    #: the generation of the owner's files in force (store/generations.py), None: not known
    generation: int | None = 0
    #: before an email is rendered: the owner's files saved last (from any process) put in
    #: force; False when they cannot be loaded, and nothing may be rendered with the old ones
    #: (the daemon's: run/runtime.py; a CLI command's renders with what it loaded)
    current: Callable[[], Awaitable[bool]] = field(default=_always)

    _signer: tuple[Config, Signer] | None = field(default=None, init=False, repr=False)
    _stamps: tuple[Renderer, Stamps] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        # A forgotten person's event ids are kept as hashes keyed by the daemon's secret, so
        # the store needs it to recognise a replay of one (and to forget).
        self.store.erasure_keys = self.config.secrets.signing_keys

    @property
    def signer(self) -> Signer:
        """The link signer for the config in force, built once per config (a reload swaps it);
        every survey email signs twelve links, so this is on the scheduler's hot path."""
        if self._signer is None or self._signer[0] is not self.config:
            self._signer = (self.config, Signer(self.config.secrets.signing_keys))
        return self._signer[1]

    @property
    def stamps(self) -> Stamps:
        """Bulk emails' stamps for the templates in force (a reload brings a new Renderer)."""
        if self._stamps is None or self._stamps[0] is not self.renderer:
            self._stamps = (self.renderer, Stamps(self.renderer))
        return self._stamps[1]

    def url(self, path: str) -> str:
        return self.config.settings.business.public_url + path


async def open_store(config: Config) -> Store:
    """The store the config names, opened and brought to this Vouch's schema: its PostgreSQL
    database (`store.url`, the password from `store.password_env`), else its SQLite file."""
    settings = config.settings.store
    if settings.url is not None:
        from daemon.store.postgres import PostgresStore, as_store

        return as_store(
            await PostgresStore.open(settings.url, password=config.secrets.store_password)
        )
    return await SQLiteStore.open(config.store_path)


def store_name(config: Config) -> str:
    """The store as the log and `vouch check` name it (a URL never holds the password)."""
    return config.settings.store.url or str(config.store_path)


@contextlib.asynccontextmanager
async def opened(config: Config, clock: Clock | None = None) -> AsyncIterator[Services]:
    """The store and what goes with it, for a command (not the daemon) that records and lets
    the daemon send; the store is closed after."""
    clock = clock or SystemClock()
    store = await open_store(config)
    try:
        yield Services(config, Renderer(config, clock), store, clock, Metrics())
    finally:
        await store.close()
