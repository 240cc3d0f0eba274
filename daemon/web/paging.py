"""A dashboard list a page at a time (the customers, a referral status, the complaints, the
upcoming emails): every page number is answered. Below 1 is the first page; past the end (the
list shrank, or a typed number) the last; a number no list reaches is never turned into an
offset the store cannot hold (SQLite refused it, a 500)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: More pages than any list holds (50 million rows at 50 a page); a larger number is read as it.
MOST_PAGES = 1_000_000


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    total: int  # rows in the whole list
    number: int  # from 1
    pages: int
    first: int  # the first row's place in the list, from 1

    def context(self) -> dict[str, Any]:
        """What templates/admin/_macros.html's pager shows."""
        return {"total": self.total, "first": self.first, "page": self.number, "pages": self.pages}


async def page_of(
    read: Callable[[int, int], Awaitable[tuple[int, Sequence[T]]]], number: int, per_page: int
) -> Page[T]:
    """Page `number` of a list that `read(limit, offset)` gives with its total."""
    number = min(max(number, 1), MOST_PAGES)
    total, rows = await read(per_page, (number - 1) * per_page)
    pages = max(1, math.ceil(total / per_page))
    if number > pages:
        number = pages
        total, rows = await read(per_page, (number - 1) * per_page)
    return Page(rows, total, number, pages, (number - 1) * per_page + 1)
