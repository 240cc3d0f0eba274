"""Requests first: the people and systems waiting on an answer go before background work.

The daemon is one process with one event loop and one database connection. Under a burst of
API calls, the scheduler's and the sender's batches could take as much of both as the requests,
and every request would wait behind them. So, in one place:

- the web app wraps each request in `Pressure.request()`, which counts it and marks its task
  (and the tasks it starts, such as the events' group commit) as serving someone;
- at the database (`Turns`, the lock the store's database layer holds), marked work takes the
  next turn: a request waits only for the transaction already running; the rest go in arrival order;
- background work (rendering, sending, planning) first waits in `Pressure.lull()`, up to a
  bound, until no request is being served: mail goes out a little later in a burst (it waits in
  the outbox, nothing is lost), and background work still gets every turn no request wants, so
  a burst slows it and never stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections import deque
from collections.abc import Iterator

_serving: contextvars.ContextVar[bool] = contextvars.ContextVar("vouch_serving", default=False)


def serving() -> bool:
    """Whether the current task is answering a request (marked by `Pressure.request`)."""
    return _serving.get()


class Pressure:
    def __init__(self, most_seconds: float = 0.05) -> None:
        self.most_seconds = most_seconds
        self.serving = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Around each request the web server serves: counted, and its task marked."""
        _serving.set(True)
        self.serving += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self.serving -= 1
            if self.serving == 0:
                self._quiet.set()

    async def lull(self) -> None:
        """Return when no request is being served, or after `most_seconds` at the latest."""
        if self.serving:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.most_seconds):
                    await self._quiet.wait()


class Turns:
    """The database's turns, used as `async with turns:` like an asyncio.Lock; waiters serving
    a request go first."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(),  # serving a request
            deque(),  # background
        )

    async def __aenter__(self) -> None:
        await self._acquire(self._waiting[0 if serving() else 1])

    async def __aexit__(self, *_: object) -> None:
        self._release()

    async def _acquire(self, lane: deque[asyncio.Future[None]]) -> None:
        if not self._held and not any(self._waiting):
            self._held = True
            return
        handed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.append(handed)
        try:
            await handed
        except BaseException:
            if handed.done() and not handed.cancelled():
                self._release()  # the turn was handed over as this task was cancelled
            else:
                lane.remove(handed)
            raise

    def _release(self) -> None:
        """Hand the turn straight to the next waiter (it stays held), or free it."""
        for lane in self._waiting:
            while lane:
                handed = lane.popleft()
                if not handed.done():
                    handed.set_result(None)
                    return
        self._held = False
