"""Turns at the one database connection, with a lane for the people waiting on an answer.

Everything the store does goes through one connection, one transaction at a time. A request
from a customer's browser or an integration (an event, a survey answer) should not queue behind
the scheduler's and the sender's batches: it waits only for the transaction already running.
Work started while serving a web request is marked (`serving()`, set by the web app for each
request and inherited by the tasks it starts, such as the events' group commit); when the
connection comes free, marked work goes first, the rest in arrival order. Background work still
gets every turn no request is waiting for, so it is slowed by a burst, never stopped.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque

_serving: contextvars.ContextVar[bool] = contextvars.ContextVar("vouch_serving", default=False)


def serving() -> None:
    """Mark the current task (and the tasks it starts) as answering a request."""
    _serving.set(True)


class Turns:
    """Used as `async with turns:` like an asyncio.Lock."""

    def __init__(self) -> None:
        self._held = False
        self._waiting: tuple[deque[asyncio.Future[None]], deque[asyncio.Future[None]]] = (
            deque(),  # serving a request
            deque(),  # background
        )

    async def __aenter__(self) -> None:
        await self._acquire(self._waiting[0 if _serving.get() else 1])

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
