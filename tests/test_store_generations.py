"""The store's part in an edit reaching every process (store/generations.py) and in previews
any web process can show (store/previews.py), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from daemon.clock import FakeClock
from daemon.store.previews import KEEP

T0 = FakeClock().now()


async def test_each_save_raises_the_generation_once(concerns: Any) -> None:
    first = await concerns.config_generation()
    assert (first.number, first.saved_at) == (0, None)  # never saved from the dashboard
    assert await concerns.config_saved(T0) == 1
    saved = await asyncio.gather(*(concerns.config_saved(T0) for _ in range(10)))
    assert sorted(saved) == list(range(2, 12))  # two saves at once get two numbers
    latest = await concerns.config_generation()
    assert (latest.number, latest.saved_at) == (11, T0)


async def test_a_preview_is_its_holders_until_it_expires(concerns: Any) -> None:
    await concerns.keep_preview("t1", "holder-a", "<p>one</p>", T0)
    assert await concerns.preview("t1", "holder-a", T0 + KEEP / 2) == "<p>one</p>"
    assert await concerns.preview("t1", "holder-b", T0) is None  # another session's
    assert await concerns.preview("t2", "holder-a", T0) is None
    assert await concerns.preview("t1", "holder-a", T0 + KEEP) is None  # expired
    later = T0 + KEEP + timedelta(seconds=1)
    await concerns.keep_preview("t2", "holder-a", "<p>two</p>", later)  # clears expired ones
    assert await concerns.preview("t1", "holder-a", T0) is None
    assert await concerns.preview("t2", "holder-a", later) == "<p>two</p>"
