"""The whole of Vouch served on a loopback port, for a real browser.

A thread of its own runs one event loop with everything in it: a recording aiosmtpd server, the
store, the app under uvicorn on 127.0.0.1 (a free port), and the scheduler and sender as
tests/loop.py drives them, on a fake clock. The test thread (Playwright's sync API) hands that
loop coroutines with `call`, e.g. `live.call(lambda loop: loop.run())` does what the daemon does
when woken: the scheduler's sweeps, then the sender's.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, Self, TypeVar

import uvicorn
from loop import Loop, running

from daemon.config import Config
from daemon.web import create_app

from smtp_server import RecordingHandler, SmtpServer

T = TypeVar("T")
TIMEOUT = 60.0


class LiveVouch:
    def __init__(self, make_config: Callable[[SmtpServer, str], Config]) -> None:
        """make_config(smtp, public_url): the config to run, pointed at the SMTP server."""
        self.make_config = make_config
        self.url = ""
        self._ready: Future[None] = Future()
        self._aloop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="live-vouch", daemon=True)
        self.loop: Loop | None = None

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.result(TIMEOUT)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._aloop is not None and self._stop is not None:
            self._aloop.call_soon_threadsafe(self._stop.set)
        self._thread.join(TIMEOUT)

    def call(self, work: Callable[[Loop], Awaitable[T]]) -> T:
        """Run work(loop) on Vouch's event loop and return its result."""
        assert self._aloop is not None and self.loop is not None
        loop = self.loop

        async def wrapped() -> T:
            return await work(loop)

        return asyncio.run_coroutine_threadsafe(wrapped(), self._aloop).result(TIMEOUT)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:
            if not self._ready.done():
                self._ready.set_exception(exc)
            raise

    async def _main(self) -> None:
        self._aloop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # listening: clients queue
        async with SmtpServer(RecordingHandler()) as smtp:
            config = self.make_config(smtp, self.url)
            async with running(config, smtp) as loop:
                self.loop = loop
                server = uvicorn.Server(
                    uvicorn.Config(
                        create_app(loop.services),
                        lifespan="off",
                        access_log=False,
                        log_level="warning",
                    )
                )
                serving = asyncio.create_task(server.serve(sockets=[sock]))
                self._ready.set_result(None)
                await self._stop.wait()
                server.should_exit = True
                await serving

    def mail_to(self, address: str) -> list[Any]:
        """The messages the SMTP server received for one address, parsed."""
        assert self.loop is not None
        messages = [m.message() for m in self.loop.smtp.handler.messages]
        return [m for m in messages if m["To"].addresses[0].addr_spec == address]
