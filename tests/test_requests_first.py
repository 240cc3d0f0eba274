"""Requests first (daemon/requests_first.py): background work waits for a lull in the requests
being served, never forever; at the database, one holder at a time, work serving a request goes
before queued background work, and a waiter that gives up (cancelled) never keeps or loses the
turn; the web app marks and counts each request."""

from __future__ import annotations

import asyncio
import contextvars

from daemon.requests_first import Pressure, serving
from daemon.run.services import Services
from daemon.store.db import Turns


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


def _background(coro: object) -> asyncio.Task[None]:
    """A task started outside any request (like the scheduler's), whatever the caller is."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())  # type: ignore[arg-type]


async def _take(turns: Turns, name: str, order: list[str], release: asyncio.Event) -> None:
    async with turns:
        order.append(name)
        await release.wait()


async def _take_serving(turns: Turns, name: str, order: list[str], release: asyncio.Event) -> None:
    with Pressure().request():
        await _take(turns, name, order, release)


async def test_requests_go_before_queued_background_work_and_each_holds_alone() -> None:
    turns = Turns()
    order: list[str] = []
    gates = {name: asyncio.Event() for name in ("first", "bg1", "bg2", "req1", "req2")}
    first = _background(_take(turns, "first", order, gates["first"]))
    await _settle()
    bg = [_background(_take(turns, n, order, gates[n])) for n in ("bg1", "bg2")]
    await _settle()
    req = [_background(_take_serving(turns, n, order, gates[n])) for n in ("req1", "req2")]
    await _settle()
    assert order == ["first"]  # everyone else waits for the holder
    for name in ("first", "req1", "req2", "bg1", "bg2"):
        gates[name].set()
        await _settle()
    await asyncio.gather(first, *bg, *req)
    assert order == ["first", "req1", "req2", "bg1", "bg2"]


async def test_a_cancelled_waiter_leaves_the_queue_and_the_next_one_gets_the_turn() -> None:
    turns = Turns()
    order: list[str] = []
    gates = {name: asyncio.Event() for name in ("first", "gone", "next")}
    first = _background(_take(turns, "first", order, gates["first"]))
    await _settle()
    gone = _background(_take(turns, "gone", order, gates["gone"]))
    after = _background(_take(turns, "next", order, gates["next"]))
    await _settle()
    gone.cancel()
    await _settle()
    gates["first"].set()
    gates["next"].set()
    await asyncio.gather(first, after)
    assert gone.cancelled()
    assert order == ["first", "next"]
    async with turns:  # and the turn is free again
        pass


async def test_a_waiter_cancelled_just_as_it_is_handed_the_turn_passes_it_on() -> None:
    turns = Turns()
    order: list[str] = []
    gates = {name: asyncio.Event() for name in ("handed", "next")}
    await turns.__aenter__()  # this test holds the turn
    handed = _background(_take(turns, "handed", order, gates["handed"]))
    after = _background(_take(turns, "next", order, gates["next"]))
    await _settle()
    await turns.__aexit__()  # handed over to `handed`, which has not run yet
    handed.cancel()
    gates["next"].set()
    await after
    assert handed.cancelled()
    assert order == ["next"]
    async with turns:  # free again
        pass


async def test_the_web_app_marks_and_counts_each_request_it_serves(services: Services) -> None:
    from daemon.web.app import Serving

    seen: list[tuple[bool, int]] = []

    async def inner(scope: object, receive: object, send: object) -> None:
        seen.append((serving(), services.pressure.serving))

    async def nothing() -> dict[str, object]:
        return {}

    async def ignore(message: object) -> None:
        return None

    serve = Serving(inner, services)
    await _background(serve({"type": "http"}, nothing, ignore))
    assert seen == [(True, 1)]
    assert serving() is False  # the caller's own context is untouched
    assert services.pressure.serving == 0
