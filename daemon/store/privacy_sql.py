"""A person's data: everything the store holds about an address, and forgetting it.

Forgetting keeps the anonymous facts that make the reports true (scores, segments, dates,
counts, states) and erases what identifies or quotes the person: the address (replaced by a
random `forgotten-<hex>@invalid`), name, external id, tags, comments, testimonials, replies,
referral details (as advocate or as friend), the bytes of emails about them, and the customer
fields of their events. The suppression stays, stored only as `sha256:<hex of the address>`, so
the address is never emailed again if it comes back, without being kept in clear.

SQLite keeps old bytes in free space and in the write-ahead log, so forgetting runs with
`secure_delete` on (freed content is zeroed) and ends with a `wal_checkpoint(TRUNCATE)`.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

import aiosqlite

from daemon.clock import from_ms, to_ms
from daemon.store._sql import SQL
from daemon.store.outbox_sql import suppression_keys

FORGOTTEN = "forgotten"

# Columns holding keys made by callers or from other keys (never the row ids).
_KEYS = (
    ("events", "id"),
    ("invitations", "event_id"),
    ("asks", "source"),
    ("testimonials", "origin"),
    ("replies", "dedupe"),
    ("responses", "external_id"),
    ("outbox", "dedupe_key"),
)

# Times are epoch milliseconds in the store; the export shows them as ISO 8601.
_TIME_COLUMNS = {"at"}


def _jsonable(column: str, value: Any) -> Any:
    if value is not None and (column.endswith("_at") or column in _TIME_COLUMNS):
        return from_ms(int(value)).isoformat()
    if isinstance(value, bytes):
        return None  # never the bytes of an email
    return value


async def _dicts(
    db: aiosqlite.Connection, sql: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    cursor = await db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [
        {name: _jsonable(name, value) for name, value in zip(names, row, strict=True)}
        for row in await cursor.fetchall()
    ]


def _blank_payload(payload: str, email: str, placeholder: str) -> str:
    """An event as received, without who it was about or what they wrote."""
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        return "{}"
    if not isinstance(event, dict):
        return "{}"
    if isinstance(event.get("customer"), dict):
        event["customer"] = {"email": placeholder}

    def scrub(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if isinstance(value, str) and (
            key in {"text", "comment", "name", "phone", "note", "from", "subject"}
            or email in value.lower()
        ):
            return ""
        return value

    if email in str(event.get("id", "")).lower():
        event["id"] = forgotten_key(str(event["id"]))
    if "data" in event:
        event["data"] = scrub(event["data"])
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


def forgotten_key(key: str) -> str:
    """What a key that embeds an address becomes (the same as the SQL below computes)."""
    return "forgotten-" + suppression_keys(key)[1][7:][:32]


def _blank_receipt(receipt: str, email: str) -> str:
    try:
        answer = json.loads(receipt)
    except json.JSONDecodeError:
        return "{}"
    if isinstance(answer, dict) and email in str(answer.get("id", "")).lower():
        answer["id"] = forgotten_key(str(answer["id"]))
    return json.dumps(answer)


class PrivacySQL(SQL):
    async def person_export(self, email: str) -> dict[str, Any]:
        """Everything the store holds about an address (never the bytes of emails), as JSON."""
        address, hashed = suppression_keys(email)
        async with self._lock:
            db = self._db
            found = await _dicts(
                db,
                "SELECT id, public_id, email, name, external_id, timezone, locale, tags, "
                "created_at, updated_at FROM customers WHERE email = :e",
                {"e": address},
            )
            customer = found[0] if found else None
            p = {"c": customer["id"] if customer else -1, "e": address, "h": hashed}
            if customer:
                customer["tags"] = json.loads(customer["tags"] or "[]")
            adv = "(SELECT id FROM advocates WHERE customer_id = :c)"
            person: dict[str, Any] = {
                "address": address,
                "customer": customer,
                "suppression": await _dicts(
                    db,
                    "SELECT email, reason, created_at FROM suppressions WHERE email IN (:e, :h)",
                    p,
                ),
                "bounces": await _dicts(
                    db,
                    "SELECT kind, status, diagnostic, received_at FROM bounces WHERE email = :e",
                    p,
                ),
                "events": await _dicts(
                    db,
                    "SELECT id, type, known, occurred_at, received_at, processed_at, payload "
                    "FROM events WHERE customer_id = :c ORDER BY occurred_at, seq",
                    p,
                ),
                "life_cycle": await _dicts(
                    db,
                    "SELECT stage, at, kind AS by FROM stage_moves WHERE customer_id = :c "
                    "ORDER BY at",
                    p,
                ),
                "invitations": await _dicts(
                    db,
                    "SELECT survey, event_id, state, reason, due_at, sent_at, reminded_at, "
                    "expires_at, created_at FROM invitations WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "responses": await _dicts(
                    db,
                    "SELECT survey, score, segment, comment, source, answered_at, updated_at "
                    "FROM responses WHERE customer_id = :c ORDER BY answered_at",
                    p,
                ),
                "complaints": await _dicts(
                    db,
                    "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
                    "WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "advocate": await _dicts(
                    db, "SELECT code, created_at FROM advocates WHERE customer_id = :c", p
                ),
                "asks": await _dicts(
                    db,
                    "SELECT moment, source, state, reason, due_at, sent_at, created_at "
                    "FROM asks WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "influence_mark": await _dicts(
                    db, "SELECT mark, source, set_at FROM influence_marks WHERE customer_id = :c", p
                ),
                "testimonials": await _dicts(
                    db,
                    "SELECT text, source, solicited, received_at FROM testimonials "
                    "WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "referrals_made": await _dicts(
                    db,
                    "SELECT public_id AS id, friend_name, friend_email, friend_phone, need, "
                    "timing, relationship, expects_contact, advocate_introduces, grade, "
                    "channel, flag, status, value, reward_choice, created_at, closed_at "
                    f"FROM referrals WHERE advocate_id IN {adv} ORDER BY id",
                    p,
                ),
                "referred_by": await _dicts(
                    db,
                    "SELECT r.public_id AS id, c.name AS advocate_name, r.friend_name, "
                    "r.friend_email, r.friend_phone, r.need, r.timing, r.relationship, "
                    "r.expects_contact, r.grade, r.status, r.created_at "
                    "FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
                    "JOIN customers c ON c.id = a.customer_id "
                    "WHERE r.friend_customer_id = :c OR lower(r.friend_email) = :e ORDER BY r.id",
                    p,
                ),
                "given_to_partners": await _dicts(
                    db,
                    "SELECT g.public_id AS id, p.name AS partner, g.client_name, g.client_email, "
                    "g.note, g.status, g.created_at, g.closed_at FROM partner_referrals g "
                    "JOIN partners p ON p.id = g.partner_id WHERE lower(g.client_email) = :e "
                    "ORDER BY g.id",
                    p,
                ),
                "rewards": await _dicts(
                    db,
                    "SELECT description, code, state, created_at, issued_at FROM rewards "
                    f"WHERE advocate_id IN {adv} ORDER BY id",
                    p,
                ),
                "replies": await _dicts(
                    db,
                    "SELECT from_addr, subject, text, verdict, explanation, received_at "
                    "FROM replies WHERE customer_id = :c OR from_addr = :e ORDER BY id",
                    p,
                ),
                "emails": await _dicts(
                    db,
                    "SELECT kind, recipient, message_id, state, attempts, last_error, "
                    "created_at, sent_at FROM outbox "
                    "WHERE customer_id = :c OR lower(recipient) = :e ORDER BY id",
                    p,
                ),
            }
        for event in person["events"]:
            event["payload"] = json.loads(event["payload"])
        return person

    async def forget(self, email: str, now: datetime) -> dict[str, Any]:
        """Erase a person's data, keep the anonymous facts; what was changed, by table."""
        address, hashed = suppression_keys(email)
        placeholder = f"forgotten-{secrets.token_hex(12)}@invalid"
        changed: dict[str, int] = {}
        async with self._write() as db:
            await db.execute("PRAGMA secure_delete = ON")
            cursor = await db.execute("SELECT id FROM customers WHERE email = ?", (address,))
            row = await cursor.fetchone()
            p: dict[str, Any] = {
                "c": int(row[0]) if row else -1,
                "e": address,
                "h": hashed,
                "x": placeholder,
                "now": to_ms(now),
                "why": "the person asked to be forgotten",
            }
            referrals = (
                "(SELECT id FROM referrals WHERE friend_customer_id = :c "
                "OR lower(friend_email) = :e "
                "OR advocate_id IN (SELECT id FROM advocates WHERE customer_id = :c))"
            )
            # Emails about them: to them, about them to the owner, about their referrals.
            about = (
                "customer_id = :c OR lower(recipient) = :e "
                "OR instr(lower(CAST(message AS TEXT)), :e) > 0 "
                f"OR dedupe_key IN (SELECT 'referral-' || k || ':' || id FROM {referrals}, "
                "(SELECT 'owner' AS k UNION ALL SELECT 'thanks' UNION ALL SELECT 'friend')) "
                "OR dedupe_key IN (SELECT 'referral-step:' || id FROM referral_steps "
                f"WHERE referral_id IN {referrals}) "
                "OR dedupe_key IN (SELECT 'reward:' || id FROM rewards "
                f"WHERE referral_id IN {referrals})"
            )
            statements = {
                "emails": f"""
                    UPDATE outbox SET
                      message = X'',
                      recipient = CASE WHEN lower(recipient) = :e THEN :x ELSE recipient END,
                      last_error = CASE
                        WHEN state IN ('queued', 'sending') THEN :why
                        WHEN instr(lower(last_error), :e) > 0 THEN 'address forgotten'
                        ELSE last_error END,
                      state = CASE WHEN state IN ('queued', 'sending') THEN 'suppressed'
                                   ELSE state END,
                      lease_owner = NULL,
                      updated_at = :now
                    WHERE {about}""",
                "referrals": f"""
                    UPDATE referrals SET friend_name = NULL, friend_email = NULL,
                      friend_phone = NULL, need = NULL, timing = NULL, relationship = NULL,
                      updated_at = :now
                    WHERE id IN {referrals}""",
                "given_to_partners": "UPDATE partner_referrals SET client_name = NULL, "
                "client_email = NULL, note = NULL WHERE lower(client_email) = :e",
                "responses": "UPDATE responses SET comment = NULL WHERE customer_id = :c "
                "AND comment IS NOT NULL",
                "testimonials": "UPDATE testimonials SET text = '' WHERE customer_id = :c",
                "replies": "UPDATE replies SET from_addr = '', subject = NULL, text = '', "
                "explanation = :why WHERE customer_id = :c OR from_addr = :e",
                "invitations": "UPDATE invitations SET state = 'skipped', reason = :why "
                "WHERE customer_id = :c AND state = 'scheduled'",
                "reminders": "UPDATE invitations SET reminder_at = NULL "
                "WHERE customer_id = :c AND reminder_at IS NOT NULL",
                "asks": "UPDATE asks SET state = 'skipped', reason = :why "
                "WHERE customer_id = :c AND state IN ('scheduled', 'waiting')",
                "influence_mark": "DELETE FROM influence_marks WHERE customer_id = :c",
                "set_aside": "UPDATE set_aside SET error = :why WHERE customer_id = :c",
            }
            for name, sql in statements.items():
                cursor = await db.execute(sql, p)
                changed[name] = cursor.rowcount
            cursor = await db.execute(
                "SELECT seq, payload, receipt FROM events WHERE customer_id = :c "
                "OR instr(lower(payload), :e) > 0",
                p,
            )
            events = list(await cursor.fetchall())
            for seq, payload, receipt in events:
                await db.execute(
                    "UPDATE events SET payload = ?, receipt = ? WHERE seq = ?",
                    (
                        _blank_payload(payload, address, placeholder),
                        _blank_receipt(receipt, address),
                        seq,
                    ),
                )
            changed["events"] = len(events)
            # Keys chosen by callers may embed the address (e.g. an event id "order-ann@...");
            # each becomes a stable hash of itself, so references between them still match.
            for table, column in _KEYS:
                cursor = await db.execute(
                    f"UPDATE {table} SET {column} = "
                    f"'forgotten-' || substr(vouch_sha256({column}), 1, 32) "
                    f"WHERE instr(lower({column}), :e) > 0",
                    p,
                )
                changed["keys"] = changed.get("keys", 0) + cursor.rowcount
            cursor = await db.execute(
                "UPDATE customers SET email = :x, name = NULL, external_id = NULL, "
                "tags = '[]', updated_at = :now WHERE id = :c",
                p,
            )
            changed["customer"] = cursor.rowcount
            cursor = await db.execute("DELETE FROM bounces WHERE email = :e", p)
            changed["bounces"] = cursor.rowcount
            cursor = await db.execute("DELETE FROM suppressions WHERE email = :e", p)
            changed["suppression_replaced"] = cursor.rowcount
            await db.executemany(
                "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (email) DO NOTHING",
                [(hashed, FORGOTTEN, p["now"]), (placeholder, FORGOTTEN, p["now"])],
            )
            await db.execute("PRAGMA secure_delete = OFF")
        checkpoint = await self.checkpoint()
        return {
            "address": address,
            "placeholder": placeholder if changed["customer"] else None,
            "changed": changed,
            "wal_truncated": checkpoint,
        }

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the file and empty it; False if a reader held it."""
        async with self._lock:
            cursor = await self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = await cursor.fetchone()
        return row is not None and int(row[0]) == 0
