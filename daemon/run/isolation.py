"""One bad item never stops a sweep: the item that fails is set aside with its error (kept in
the store, shown to the owner) and the rest go on.

An item is an event to plan, an invitation or reminder to queue, a complaint alert, a referral
note, a webhook fact, a digest... A fault of the store itself (`StoreUnavailable`: disk full,
I/O error) is nobody's item: it is raised, so the sweep is tried again on the next tick.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from daemon.errors import StoreUnavailable
from daemon.run.services import Services
from daemon.store.setaside import SetAsides

log = logging.getLogger(__name__)

T = TypeVar("T")


async def set_aside(
    services: Services, kind: str, item: object, customer_id: int | None, exc: Exception
) -> None:
    store: SetAsides = services.store
    error = f"{type(exc).__name__}: {exc}"
    log.error("%s %s set aside: %s", kind, item, error, exc_info=exc)
    await store.set_aside(kind, str(item), customer_id, error, services.clock.now())


async def each(
    services: Services,
    kind: str,
    items: Sequence[T],
    work: Callable[[T], Awaitable[object]],
    key: Callable[[T], object],
    customer: Callable[[T], int | None],
) -> None:
    """`work` on each item in turn; one that raises is set aside."""
    for item in items:
        try:
            await work(item)
        except StoreUnavailable:
            raise
        except Exception as exc:
            await set_aside(services, kind, key(item), customer(item), exc)


async def batch(
    services: Services,
    kind: str,
    items: Sequence[T],
    work: Callable[[list[T]], Awaitable[object]],
    key: Callable[[T], object],
    customer: Callable[[T], int | None],
) -> None:
    """`work` on all the items at once (the fast way); if that raises, on each alone, so only
    the bad ones are set aside. Work is idempotent (dedupe keys), so a repeat doubles nothing."""
    if not items:
        return
    try:
        await work(list(items))
    except StoreUnavailable:
        raise
    except Exception as exc:
        if len(items) == 1:
            await set_aside(services, kind, key(items[0]), customer(items[0]), exc)
            return
        log.warning("a batch of %d (%s) failed: doing them one by one", len(items), kind)
        await each(services, kind, items, lambda one: work([one]), key, customer)
