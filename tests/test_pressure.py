"""Requests first: background work waits for a lull in the requests being served, never
forever (the web app's counting: tests/test_turns.py)."""

from __future__ import annotations

import asyncio

from daemon.run.pressure import Pressure


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_a_lull_comes_when_the_last_request_ends() -> None:
    pressure = Pressure()
    await pressure.lull()  # nothing served: at once
    first, second = pressure.request(), pressure.request()
    first.__enter__()
    second.__enter__()
    waiting = asyncio.create_task(pressure.lull())
    await _settle()
    assert not waiting.done()
    first.__exit__(None, None, None)
    await _settle()
    assert not waiting.done()  # one is still being served
    second.__exit__(None, None, None)
    await _settle()
    assert waiting.done()
    assert pressure.serving == 0


async def test_background_work_waits_only_so_long_when_requests_never_stop() -> None:
    pressure = Pressure(most_seconds=0)
    with pressure.request():
        await pressure.lull()  # returns although a request is still being served
        assert pressure.serving == 1
