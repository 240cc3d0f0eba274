"""The generation of the owner's files: a number the store keeps, raised each time an edit
saved from the dashboard changes the files, so every process sharing the store (web and worker
roles, on any machine) can tell it runs an older one and reload (run/runtime.py).

One row, raised by one statement, so two saves at once get two numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from daemon.store.db import DB
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries

_RAISE = (
    "INSERT INTO config_generation (id, generation, saved_at) VALUES (1, 1, ?) "
    "ON CONFLICT (id) DO UPDATE SET generation = config_generation.generation + 1, "
    "saved_at = excluded.saved_at RETURNING generation"
)


@dataclass(frozen=True)
class Generation:
    number: int  # 0: never saved from the dashboard
    saved_at: datetime | None


class Generations(Protocol):
    async def config_generation(self) -> Generation:
        """The latest generation of the owner's files saved through the store."""

    async def config_saved(self, now: datetime) -> int:
        """An edit was written to the owner's files: the new generation's number."""


class GenerationsQueries(Queries):
    async def config_generation(self) -> Generation:
        row = await self._one(
            Generation, "SELECT generation, saved_at FROM config_generation WHERE id = 1"
        )
        return row or Generation(0, None)

    async def config_saved(self, now: datetime) -> int:
        (row,) = await self._write_rows(_RAISE, now)
        return int(row[0])


class GenerationsSQL(GenerationsQueries, DB):
    pass


class GenerationsPG(GenerationsQueries, PGDB):
    pass
