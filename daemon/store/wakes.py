"""Telling the other processes there is work: an event taken by a web process wakes the
workers' scheduler and sender at once, rather than at their next poll (a second); and that the
owner's files were saved from the dashboard, so each process reloads them at once. PostgreSQL
carries it (LISTEN/NOTIFY); on SQLite the processes share one machine and poll."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB

CHANNEL = "vouch_work"
CONFIG_CHANNEL = "vouch_config"


class Wakes(Protocol):
    async def notify_work(self) -> None:
        """Say there is work, to every process listening on this store."""

    async def listen_for_work(self, wake: Callable[[], None]) -> None:
        """Call `wake` each time another process says there is work, until the store closes."""

    async def notify_config(self) -> None:
        """Say the owner's files were saved (Generations.config_saved), to every process."""

    async def listen_for_config(self, wake: Callable[[], None]) -> None:
        """Call `wake` each time a process says the owner's files were saved."""


class WakesSQL(DB):
    """SQLite's processes share one machine and find work by polling: nothing to carry."""

    async def notify_work(self) -> None:
        return None

    async def listen_for_work(self, wake: Callable[[], None]) -> None:
        return None

    async def notify_config(self) -> None:
        return None

    async def listen_for_config(self, wake: Callable[[], None]) -> None:
        return None


class WakesPG(PGDB):
    async def notify_work(self) -> None:
        await self._fetch("SELECT pg_notify(?, '')", CHANNEL)

    async def listen_for_work(self, wake: Callable[[], None]) -> None:
        await self._listen(CHANNEL, wake)

    async def notify_config(self) -> None:
        await self._fetch("SELECT pg_notify(?, '')", CONFIG_CHANNEL)

    async def listen_for_config(self, wake: Callable[[], None]) -> None:
        await self._listen(CONFIG_CHANNEL, wake)

    async def _listen(self, channel: str, wake: Callable[[], None]) -> None:
        def heard(*_: Any) -> None:
            wake()

        await self._hold_connection(
            lambda connection: connection.add_listener(channel, heard),
            lambda connection: connection.remove_listener(channel, heard),
        )
