"""Telling the other processes there is work: an event taken by a web process wakes the
workers' scheduler and sender at once, rather than at their next poll (a second). PostgreSQL
carries it (LISTEN/NOTIFY); on SQLite the processes share one machine and poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB

CHANNEL = "vouch_work"


class Wakes(Protocol):
    async def notify_work(self) -> None:
        """Say there is work, to every process listening on this store."""

    async def listen_for_work(self, wake: Callable[[], None]) -> None:
        """Call `wake` each time another process says there is work, until the store closes."""


class WakesSQL(DB):
    """SQLite's processes share one machine and find work by polling: nothing to carry."""

    async def notify_work(self) -> None:
        return None

    async def listen_for_work(self, wake: Callable[[], None]) -> None:
        return None


class WakesPG(PGDB):
    async def notify_work(self) -> None:
        await self._fetch("SELECT pg_notify(?, '')", CHANNEL)

    async def listen_for_work(self, wake: Callable[[], None]) -> None:
        def heard(*_: Any) -> None:
            wake()

        await self._hold_connection(
            lambda connection: connection.add_listener(CHANNEL, heard),
            lambda connection: connection.remove_listener(CHANNEL, heard),
        )
