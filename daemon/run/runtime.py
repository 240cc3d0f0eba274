"""`vouch run`: the web server, the scheduler and the sender in one process, around one store;
or one role of them (`--role web`: HTTP and the inbound listener; `--role worker`: the scheduler
and the sender), any number of each sharing the store. Among workers one plans at a time (the
scheduler lease) and every one sends (outbox leases); a web process's new events wake the
workers through the store (PostgreSQL's NOTIFY; on SQLite, at their next poll).

The owner's files saved from the dashboard by one web process reach every process: the store
keeps their generation (store/generations.py); each process compares it with its own before it
renders an email (Services.current: the sender's claim, the scheduler's tick, an email queued
rendered) and when told (NOTIFY) or at each poll, and reloads through the same path as SIGHUP.
One that cannot load the files saved last renders nothing, and says so in its log and /healthz.

Lifecycle in one place: start everything, route signals (SIGTERM/SIGINT stop, SIGHUP reload),
stop everything in order: stop accepting requests, let the sender finish or release its
in-flight emails, close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Literal

import uvicorn
from fastapi import FastAPI

from daemon.clock import Clock
from daemon.config import MIN_SECRET_LENGTH, Config
from daemon.engine.replies import InboundMail
from daemon.errors import ConfigError, VouchError
from daemon.intake import inbound
from daemon.intake.inbound_smtp import InboundListener
from daemon.run.checked import load_checked, swap
from daemon.run.metrics import Metrics
from daemon.run.scheduler import Scheduler
from daemon.run.sender import Sender
from daemon.run.services import Services, open_store, store_name
from daemon.surveys import survey_email
from daemon.transport import build_transport
from daemon.transport.webhook import WebhookTransport
from daemon.web import create_app

log = logging.getLogger("vouch")

Role = Literal["all", "web", "worker"]
NOTICE_GAP = 0.05  # seconds: how often at most a web process tells the workers of new work


def _freeze_startup_objects() -> None:
    """What start-up built (config, templates, the app: ~100,000 objects) lives as long as the
    process. Frozen, the garbage collector's full passes skip it: under load those passes
    otherwise stop the event loop for 70-120 ms every few seconds (measured with bench/load.py).
    Objects built by a reload are not frozen, so a replaced config is collected, except the
    start-up one: after the first reload it stays in memory (about 1 MB, once)."""
    gc.collect()
    gc.freeze()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon routes signals itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Daemon:
    def __init__(
        self,
        config_path: Path,
        environ: Mapping[str, str],
        clock: Clock,
        *,
        extend_app: Callable[[FastAPI], None] | None = None,
        role: Role = "all",
        instance: str | None = None,
    ) -> None:
        """extend_app: a seam for bench/ingest.py, which adds a bare endpoint to compare with.
        instance: this process's name on its leases (default: sender.instance, and for a
        worker its host and process id too, so two workers never share a name)."""
        self.extend_app = extend_app
        self.role = role
        self.instance = instance
        self.config_path = config_path
        self.environ = environ
        self.clock = clock
        self._stopped = asyncio.Event()
        self._notice: asyncio.Task[None] | None = None  # telling the workers of new work
        self._notice_again = False  # new work since that notice was sent
        self._config_saved = asyncio.Event()  # another process saved the owner's files
        self._reloading = asyncio.Lock()
        self._failed: tuple[int, datetime] | None = None  # a generation that did not load

    async def run(self) -> None:
        began = self.clock.now()
        config, renderer = load_checked(self.config_path, self.environ, self.clock)
        store = await open_store(config)
        try:
            metrics = Metrics()
            self.services = Services(
                config, renderer, store, self.clock, metrics, environ=self.environ
            )
            saved = await store.config_generation()
            if saved.saved_at is None or saved.saved_at < began:  # else: maybe saved meanwhile
                self.services.generation = saved.number
            else:
                self.services.generation = None
            self.services.current = self._current
            name = self._name(config)
            self.sender = Sender(
                store,
                build_transport(config, self.clock),
                self.clock,
                config.settings.sender,
                metrics,
                owner=name,
                webhooks=WebhookTransport(lambda: self.services.config, self.clock),
                pressure=self.services.pressure,
                render=partial(survey_email.render_claimed, self.services),
                health=self.services.health,
                ready=self._current,
            )
            self.scheduler = Scheduler(self.services, on_enqueued=self.sender.wake, holder=name)
            if self.role == "all":
                self.services.nudge = self.scheduler.wake
            elif self.role == "web":  # the workers hear of new work through the store
                self.services.nudge = self._notify_workers
            else:
                await store.listen_for_work(self._work_heard)
            await store.listen_for_config(self._config_saved.set)
            self._install_signals()
            log.info("%s", dashboard_line(config, await store.user_count()))
            if config.settings.business.demo:
                log.warning(
                    "this is the demo business (business.demo = true): its examples reach "
                    "customers; `vouch init DIR` starts a folder for your own"
                )
            sock = self._serve(config) if self.role != "worker" else None
            if self.role != "all":
                log.info("role %s: %s (instance %s)", self.role, _ROLES[self.role], name)
            self.listener = await self._inbound(config) if self.role != "worker" else None
            _freeze_startup_objects()
            async with asyncio.TaskGroup() as tasks:
                if sock is not None:
                    tasks.create_task(self.server.serve(sockets=[sock]))
                if self.role != "web":
                    tasks.create_task(self.sender.run())
                    tasks.create_task(self.scheduler.run())
                tasks.create_task(self._stop_when_asked())
                tasks.create_task(self._watch_config(config.settings.sender.poll_seconds))
        finally:
            gc.unfreeze()  # a process that runs the daemon again (the tests) starts afresh
            listener: InboundListener | None = getattr(self, "listener", None)
            if listener is not None:
                await listener.stop()
            with contextlib.suppress(Exception):
                await self.sender.transport.aclose()
            with contextlib.suppress(Exception):
                if self.sender.webhooks is not None:
                    await self.sender.webhooks.aclose()
            await store.close()
            log.info("stopped")

    def stop(self) -> None:
        self._stopped.set()

    def _notify_workers(self) -> None:
        """A web process's nudge: tell the workers through the store, not awaited (a request
        does not wait on it). At 500 events a second a notice each was 500 statements a
        second, each waking every worker: one is sent at once, and what comes in while it is
        sent or within NOTICE_GAP after is told by one more notice at the end of the gap."""
        if self._notice is not None:
            self._notice_again = True
        else:
            self._notice = asyncio.get_running_loop().create_task(self._tell_workers())

    async def _tell_workers(self) -> None:
        try:
            again = True
            while again:
                self._notice_again = False
                try:
                    await self.services.store.notify_work()
                except Exception as exc:  # the workers' poll finds the work
                    log.warning("could not tell the workers of new work: %s", exc)
                await asyncio.sleep(NOTICE_GAP)
                again = self._notice_again
        finally:
            self._notice = None

    async def _current(self) -> bool:
        """Services.current: the generation of the owner's files saved last, compared with
        this process's; behind, the files are reloaded (one reload at a time). Files that do
        not load are tried again when saved again, at SIGHUP, or after RETRY."""
        services = self.services
        latest = (await services.store.config_generation()).number
        if latest == services.generation:
            return True
        async with self._reloading:
            if latest == services.generation:  # reloaded while this one waited
                return True
            now = self.clock.now()
            failed = self._failed
            if failed is not None and failed[0] == latest and now < failed[1] + RETRY:
                return False
            if await self.reload(saved=latest):
                return True
            self._failed = (latest, now)
            return False

    async def _watch_config(self, poll_seconds: float) -> None:
        """Reload as soon as another process saves the owner's files (PostgreSQL says so),
        or at each poll (SQLite), so pages show the new words too, not only emails."""
        while not self._stopped.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(poll_seconds):
                    await self._config_saved.wait()
            self._config_saved.clear()
            if self._stopped.is_set():
                return
            try:
                await self._current()
            except Exception as exc:  # the store failing: the next poll tries again
                log.warning("could not look for a newer save of the owner's files: %s", exc)

    def _work_heard(self) -> None:
        self.scheduler.wake()
        self.sender.wake()

    def _name(self, config: Config) -> str:
        if self.instance:
            return self.instance
        if self.role == "worker":
            return f"{config.settings.sender.instance}@{socket.gethostname()}:{os.getpid()}"
        return config.settings.sender.instance

    def _serve(self, config: Config) -> socket.socket:
        """The listening socket and the server that will answer on it."""
        server_settings = config.settings.server
        sock = _listen(server_settings.host, server_settings.port)
        host, port = sock.getsockname()[:2]
        app = create_app(self.services)
        if self.extend_app:
            self.extend_app(app)
        self.server = _Server(
            uvicorn.Config(
                app,
                http="httptools",
                lifespan="off",
                # uvicorn would take X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS)
                # as the client: the app decides by server.trusted_proxies alone
                # (web/ratelimit.client_address), for its rate limits and login lock
                proxy_headers=False,
                access_log=False,
                log_level="warning",
                timeout_graceful_shutdown=10,
            )
        )
        log.info(
            "listening on http://%s:%d (store %s, transport %s)",
            host,
            port,
            store_name(config),
            config.settings.email.transport,
        )
        return sock

    async def _inbound(self, config: Config) -> InboundListener | None:
        """The optional SMTP listener for replies (inbound.smtp = true)."""
        settings = config.settings.inbound
        if not settings.smtp:
            return None

        async def handle(mail: InboundMail) -> None:
            await inbound.handle(self.services, mail)

        listener = await InboundListener(
            handle, settings.host, settings.port, settings.max_bytes
        ).start()
        log.info("listening for replies on smtp://%s:%d", settings.host, listener.port)
        return listener

    async def _stop_when_asked(self) -> None:
        await self._stopped.wait()
        log.info("stopping: no new requests, finishing in-flight emails")
        if (server := getattr(self, "server", None)) is not None:
            server.should_exit = True
        self.scheduler.stop()
        self.sender.stop()
        self._config_saved.set()

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stop)
        loop.add_signal_handler(signal.SIGINT, self.stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self.reload()))

    async def reload(self, saved: int | None = None) -> bool:
        """Swap in a new config and templates; a bad one is refused and the old one stays.
        `saved`: the generation saved from the dashboard this reload is for; a bad one pauses
        rendering (Services.current says no) rather than leave the old one in force."""
        services = self.services
        generation = (await services.store.config_generation()).number  # before the files
        try:
            config, renderer = await asyncio.to_thread(
                load_checked, self.config_path, self.environ, self.clock
            )
        except ConfigError as exc:
            if saved is None:
                log.error("reload refused, the running config stays in force:\n%s", exc)
            else:
                problem = (
                    f"rendering paused: the owner's files saved from the dashboard (generation "
                    f"{saved}) cannot be loaded; fix them and save again, or send SIGHUP"
                )
                services.health.config_problem = problem
                log.error("%s:\n%s", problem, exc)
            return False
        old = self.services.config
        swap(self.services, config, renderer)
        self.sender.configure(config.settings.sender)
        if (old.settings.email, old.secrets.smtp_password) != (
            config.settings.email,
            config.secrets.smtp_password,
        ):
            await self.sender.use_transport(build_transport(config, self.clock))
        services.generation, services.health.config_problem, self._failed = generation, None, None
        log.info(
            "config reloaded (business: %s), generation %d",
            config.settings.business.name,
            generation,
        )
        return True


#: how long a process paused on files it could not load waits before it tries them again
RETRY = timedelta(minutes=1)

_ROLES = {"web": "HTTP only, no scheduling or sending", "worker": "scheduling and sending, no HTTP"}


def dashboard_line(config: Config, users: int = 0) -> str:
    """Where the owner's dashboard is, said at start-up (or why it is off); once there are
    dashboard users they log in by email, and the shared password no longer does."""
    address = f"{config.settings.business.public_url}/admin"
    variable = config.settings.secrets.dashboard_password_env
    if users:
        return (
            f"dashboard: {address} ({users} user{'' if users == 1 else 's'}, see vouch user list)"
        )
    if config.secrets.dashboard_password:
        return f"dashboard: {address} (its password is in ${variable})"
    if variable is None:
        return "dashboard: off (name a password variable in secrets.dashboard_password_env)"
    return (
        f"dashboard: off (set {variable} to a password of at least {MIN_SECRET_LENGTH} "
        f"characters to open {address})"
    )


def _listen(host: str, port: int) -> socket.socket:
    try:
        sock = socket.create_server((host, port), family=_family(host), backlog=2048)
    except OSError as exc:
        raise VouchError(
            f"cannot listen on {host}:{port} (server.host, server.port): {exc.strerror}"
        ) from exc
    sock.set_inheritable(True)
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
