"""Facts not yet reported to the owner's webhooks, and reporting them (outbox rows + the mark)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.engine.webhooks import Fact
from daemon.mail.outbox import NewEmail
from daemon.store.db import DB
from daemon.store.outbox import INSERT_OUTBOX, outbox_rows
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries
from daemon.store.rows import as_time

_ADVOCATE = "JOIN advocates a ON a.id = f.advocate_id JOIN customers c ON c.id = a.customer_id"


def fact_queries(unset: Callable[[str], str]) -> dict[str, tuple[str, str]]:
    """Each fact type: the table whose `reported` flag marks it, and the query for the
    unreported (`unset`: the layer's `_not`, as the flag's test differs by dialect)."""
    return {
        "response.recorded": (
            "responses",
            f"""SELECT r.id, r.answered_at, r.customer_id, c.email, c.name,
                      r.survey, r.score, r.segment, r.comment, r.source
               FROM responses r JOIN customers c ON c.id = r.customer_id
               WHERE {unset("r.reported")} ORDER BY r.id LIMIT ?""",
        ),
        "complaint.opened": (
            "complaints",
            f"""SELECT k.id, k.opened_at, k.customer_id, k.id, c.email, c.name,
                      r.survey, r.score, r.comment
               FROM complaints k JOIN responses r ON r.id = k.response_id
               JOIN customers c ON c.id = k.customer_id
               WHERE {unset("k.reported")} ORDER BY k.id LIMIT ?""",
        ),
        "referral.created": (
            "referrals",
            f"""SELECT f.id, f.created_at, a.customer_id, f.public_id, c.email, c.name,
                       f.friend_name, f.friend_email, f.friend_phone, f.need, f.timing,
                       f.relationship, f.expects_contact, f.advocate_introduces, f.grade,
                       f.channel, f.flag
                FROM referrals f {_ADVOCATE}
                WHERE {unset("f.reported")} ORDER BY f.id LIMIT ?""",
        ),
        "referral.status_changed": (
            "referral_steps",
            f"""SELECT s.id, s.at, a.customer_id, f.public_id, c.email, c.name,
                       f.friend_name, s.status,
                       coalesce((SELECT p.status FROM referral_steps p
                                 WHERE p.referral_id = s.referral_id AND p.id < s.id
                                 ORDER BY p.id DESC LIMIT 1), 'new'),
                       s.note, f.value
                FROM referral_steps s JOIN referrals f ON f.id = s.referral_id {_ADVOCATE}
                WHERE {unset("s.reported")} ORDER BY s.id LIMIT ?""",
        ),
        "reward.issued": (
            "rewards",
            f"""SELECT w.id, w.issued_at, a.customer_id, f.public_id, c.email, c.name,
                      f.friend_name, w.description, w.code
               FROM rewards w JOIN referrals f ON f.id = w.referral_id
               JOIN advocates a ON a.id = w.advocate_id JOIN customers c ON c.id = a.customer_id
               WHERE {unset("w.reported")} AND w.state = 'issued' ORDER BY w.id LIMIT ?""",
        ),
    }


#: The fact queries as SQLite runs them (their partial indexes are on `reported = 0`).
FACT_QUERIES = fact_queries(DB._not)


# Each fact type's data: the names of its query's columns after the first three (id, time,
# customer), a dotted name nesting (`friend.name`), in the order the payload shows them.
_WHO = ("email", "name")
_DATA: dict[str, tuple[str, ...]] = {
    "response.recorded": (
        *(f"customer.{k}" for k in _WHO),
        *("survey", "score", "segment", "comment", "source"),
    ),
    "complaint.opened": (
        "complaint_id",
        *(f"customer.{k}" for k in _WHO),
        *("survey", "score", "comment"),
    ),
    "referral.created": (
        "referral",
        *(f"advocate.{k}" for k in _WHO),
        *("friend.name", "friend.email", "friend.phone", "need", "timing", "relationship"),
        *("expects_contact", "advocate_introduces", "grade", "channel", "flag"),
    ),
    "referral.status_changed": (
        "referral",
        *(f"advocate.{k}" for k in _WHO),
        *("friend.name", "status", "previous_status", "note", "value"),
    ),
    "reward.issued": (
        "referral",
        *(f"advocate.{k}" for k in _WHO),
        "friend.name",
        "reward",
        "code",
    ),
}
_FLAGS = {"expects_contact", "advocate_introduces"}  # 0/1 in the table, true/false to the owner


class Webhooks(Protocol):
    """Outbound webhooks: the facts the owner's systems have not heard of yet."""

    async def unreported_facts(self, limit: int) -> list[Fact]: ...
    async def report_facts(
        self, facts: Sequence[Fact], deliveries: Sequence[NewEmail], now: datetime
    ) -> None: ...


class WebhooksQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects but the flag's test."""

    async def unreported_facts(self, limit: int) -> list[Fact]:
        """Up to `limit` facts of each type that no sweep has reported yet, oldest first."""
        facts = []
        for kind, (_, sql) in fact_queries(self._not).items():
            for r in await self._fetch(sql, limit):
                facts.append(Fact(kind, int(r[0]), as_time(r[1]), r[2], _data(_DATA[kind], r[3:])))
        return sorted(facts, key=lambda f: (f.occurred_at, f.type, f.row_id))

    async def report_facts(
        self, facts: Sequence[Fact], deliveries: Sequence[NewEmail], now: datetime
    ) -> None:
        """The deliveries into the outbox and the facts marked reported, in one transaction:
        a crash leaves either both or neither (and a repeat adds no second delivery)."""
        if not facts:
            return
        await self._write_many(
            [
                (INSERT_OUTBOX, outbox_rows(deliveries, now)),  # a URL is no address to suppress
                *(
                    (
                        f"UPDATE {table} SET reported = TRUE WHERE id = ?",
                        [(f.row_id,) for f in facts if f.type == kind],
                    )
                    for kind, (table, _) in FACT_QUERIES.items()
                ),
            ]
        )


class WebhooksSQL(WebhooksQueries, DB):
    pass


class WebhooksPG(WebhooksQueries, PGDB):
    """Outbound webhooks' facts on PostgreSQL: the same calls."""


def _data(names: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in zip(names, values, strict=True):
        *outer, key = name.split(".")
        place = data
        for part in outer:
            place = place.setdefault(part, {})
        place[key] = bool(value) if key in _FLAGS else value
    return data
