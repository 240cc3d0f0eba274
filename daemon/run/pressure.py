"""Requests first: background work (rendering, sending, planning) waits for a lull.

The daemon is one process with one event loop. Under a burst of API calls, the scheduler and
the sender could take as much of the loop as the requests, and every request would wait behind
their work. Instead each unit of background work first waits, up to a bound, until no request
is being served: mail goes out a little later in a burst (it waits in the outbox, nothing is
lost), and the people and systems waiting on an answer get it promptly. The bound keeps
background work moving even when requests never stop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator


class Pressure:
    def __init__(self, most_seconds: float = 0.05) -> None:
        self.most_seconds = most_seconds
        self.serving = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @contextlib.contextmanager
    def request(self) -> Iterator[None]:
        """Around each request the web server serves."""
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
