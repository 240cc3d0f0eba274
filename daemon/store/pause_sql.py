"""Whether sending is paused because the relay refuses us (one row, or none)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from daemon.clock import from_ms, to_ms
from daemon.mail.outbox import Pause
from daemon.store.db import DB

_COLUMNS = "reason, since, probe_at, wait_seconds"


class PauseSQL(DB):
    async def sending_pause(self) -> Pause | None:
        rows = await self._read(f"SELECT {_COLUMNS} FROM sending_pause WHERE id = 1")
        return _pause(rows[0]) if rows else None

    async def pause_sending(self, pause: Pause, refund: Sequence[int], now: datetime) -> None:
        """Pause, or move the pause in force on (its reason and next probe; `since` stays).
        The emails in `refund` were refused before the pause was seen for what it is: they get
        their try back and are due at once, like the rows held while paused."""
        now_ms = to_ms(now)
        async with self._write() as db:
            await db.execute(
                f"INSERT INTO sending_pause (id, {_COLUMNS}) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET reason = excluded.reason, "
                "probe_at = excluded.probe_at, wait_seconds = excluded.wait_seconds",
                (pause.reason, to_ms(pause.since), to_ms(pause.probe_at), pause.wait_seconds),
            )
            await db.executemany(
                "UPDATE outbox SET attempts = attempts - 1, due_at = ?, updated_at = ? "
                "WHERE id = ? AND state = 'queued' AND attempts > 0",
                [(now_ms, now_ms, row_id) for row_id in refund],
            )

    async def resume_sending(self) -> Pause | None:
        """End the pause; the one that was in force, or None when sending was not paused."""
        async with self._write() as db:
            rows = list(
                await db.execute_fetchall(f"DELETE FROM sending_pause RETURNING {_COLUMNS}")
            )
        return _pause(rows[0]) if rows else None


def _pause(r: Any) -> Pause:
    return Pause(reason=r[0], since=from_ms(r[1]), probe_at=from_ms(r[2]), wait_seconds=r[3])
