"""Exports for the owner's spreadsheets, read in pages so memory stays flat on any size."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from daemon.clock import from_ms
from daemon.owner.import_rows import tags_cell
from daemon.store.db import DB

PAGE = 5000

# name → (header, query selecting the id first, then the columns; times are epoch ms)
EXPORTS: dict[str, tuple[list[str], str]] = {
    "responses": (
        ["answered_at", "email", "name", "survey", "score", "segment", "comment", "source"],
        "SELECT r.id, r.answered_at, c.email, c.name, r.survey, r.score, r.segment, r.comment, "
        "r.source FROM responses r JOIN customers c ON c.id = r.customer_id WHERE r.id > ? "
        "ORDER BY r.id LIMIT ?",
    ),
    "referrals": (
        [
            "id",
            "created_at",
            "advocate_email",
            "advocate_name",
            "friend_name",
            "friend_email",
            "grade",
            "status",
            "value",
            "flag",
            "closed_at",
        ],
        "SELECT r.id, r.public_id, r.created_at, c.email, c.name, r.friend_name, r.friend_email, "
        "r.grade, r.status, r.value, r.flag, r.closed_at FROM referrals r "
        "JOIN advocates a ON a.id = r.advocate_id JOIN customers c ON c.id = a.customer_id "
        "WHERE r.id > ? ORDER BY r.id LIMIT ?",
    ),
    "customers": (
        ["email", "name", "external_id", "tags", "timezone", "locale", "created_at"],
        "SELECT id, email, name, external_id, tags, timezone, locale, created_at FROM customers "
        "WHERE id > ? ORDER BY id LIMIT ?",
    ),
}

_TIMES = {"answered_at", "created_at", "closed_at"}


class ExportSQL(DB):
    async def export_rows(self, name: str) -> AsyncIterator[list[Any]]:
        """The rows of one export, in pages; times as ISO 8601 UTC, tags as `vouch import`
        reads them."""
        header, query = EXPORTS[name]
        last = 0
        while True:
            rows = await self._read(query, (last, PAGE))
            if not rows:
                return
            last = int(rows[-1][0])
            for row in rows:
                yield [_cell(column, v) for column, v in zip(header, row[1:], strict=True)]


def _cell(column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in _TIMES:
        return from_ms(value).isoformat()
    if column == "tags":
        return tags_cell(json.loads(value))
    return value
