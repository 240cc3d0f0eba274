"""The connection every SQLite query module shares: one transaction at a time, under a lock.

Write transactions start with BEGIN IMMEDIATE so two processes on the same file (the daemon and
a CLI command) queue on SQLite's lock instead of failing half-way through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite


class SQL:
    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self._lock = asyncio.Lock()
        self.path = path

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                await self._db.execute("ROLLBACK")
                raise
            await self._db.execute("COMMIT")

    async def _read(
        self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[aiosqlite.Row]:
        async with self._lock:
            cursor = await self._db.execute(sql, params)
            return list(await cursor.fetchall())

    async def explain(self, sql: str, params: Sequence[Any] = ()) -> list[str]:
        """EXPLAIN QUERY PLAN details, for tests that pin the hot queries to their indexes."""
        rows = await self._read(f"EXPLAIN QUERY PLAN {sql}", params)
        return [str(r[3]) for r in rows]
