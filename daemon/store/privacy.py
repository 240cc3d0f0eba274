"""A person's data: everything the store holds about an address, and forgetting it.

Forgetting keeps the anonymous facts that make the reports true (scores, segments, dates,
counts, states) and erases what identifies or quotes the person: the address (replaced by a
random `forgotten-<hex>@invalid`), name, external id, tags, comments, testimonials, replies,
referral details (as advocate or as friend) and the notes on them, the bytes of emails about
them (the owner's digests that listed them too), and the customer fields of their events. The
suppression stays, stored only as `sha256:<hex of the address>`, so the address is never
emailed again if it comes back, without being kept in clear.

Exactly one person: rows are found by the customer's id, by columns that hold an address
exactly (lower-cased), and by keys Vouch made from those rows, never by searching text for
the address (which found joann@ when forgetting ann@). Keys a caller chose (event ids, an
answer's external id) may hold anything, so the person's are kept as an HMAC keyed by the
daemon's secret: the same id sent again is still a replay, never recorded twice.

SQLite keeps old bytes in free space and in the write-ahead log, so forgetting runs with
`secure_delete` on (freed content is zeroed) and ends with a `wal_checkpoint(TRUNCATE)`."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

import aiosqlite

from daemon.clock import to_ms
from daemon.settings import stored_address
from daemon.store.db import DB, records
from daemon.store.outbox import suppression_keys

FORGOTTEN = "forgotten"

ERASED = "erased:"

# What a person wrote or is called, wherever it sits in an event's data.
_FREE_TEXT = frozenset({"text", "comment", "name", "phone", "note", "from", "subject"})


class Privacy(Protocol):
    """A person's data: exported, or forgotten (and the write-ahead log emptied after)."""

    async def person_export(self, email: str) -> dict[str, Any]: ...
    async def forget(self, email: str, now: datetime) -> dict[str, Any]: ...
    async def checkpoint(self) -> bool: ...


class PrivacySQL(DB):
    async def person_export(self, email: str) -> dict[str, Any]:
        """Everything the store holds about an address (never the bytes of emails), as JSON."""
        address, hashed = suppression_keys(email)
        async with self._reading() as db:
            found = await records(
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
                "suppression": await records(
                    db,
                    "SELECT email, reason, created_at FROM suppressions WHERE email IN (:e, :h)",
                    p,
                ),
                "bounces": await records(
                    db,
                    "SELECT kind, status, diagnostic, received_at FROM bounces WHERE email = :e",
                    p,
                ),
                "events": await records(
                    db,
                    "SELECT id, type, known, occurred_at, received_at, processed_at, payload "
                    "FROM events WHERE customer_id = :c ORDER BY occurred_at, seq",
                    p,
                ),
                "life_cycle": await records(
                    db,
                    "SELECT stage, at, kind AS by FROM stage_moves WHERE customer_id = :c "
                    "ORDER BY at",
                    p,
                ),
                "invitations": await records(
                    db,
                    "SELECT survey, event_id, state, reason, due_at, sent_at, reminded_at, "
                    "expires_at, created_at FROM invitations WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "responses": await records(
                    db,
                    "SELECT survey, score, segment, comment, source, answered_at, updated_at "
                    "FROM responses WHERE customer_id = :c ORDER BY answered_at",
                    p,
                ),
                "complaints": await records(
                    db,
                    "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
                    "WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "advocate": await records(
                    db, "SELECT code, created_at FROM advocates WHERE customer_id = :c", p
                ),
                "asks": await records(
                    db,
                    "SELECT moment, source, state, reason, due_at, sent_at, created_at "
                    "FROM asks WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "influence_mark": await records(
                    db, "SELECT mark, source, set_at FROM influence_marks WHERE customer_id = :c", p
                ),
                "testimonials": await records(
                    db,
                    "SELECT text, source, solicited, received_at FROM testimonials "
                    "WHERE customer_id = :c ORDER BY id",
                    p,
                ),
                "referrals_made": await records(
                    db,
                    "SELECT public_id AS id, friend_name, friend_email, friend_phone, need, "
                    "timing, relationship, expects_contact, advocate_introduces, grade, "
                    "channel, flag, status, value, reward_choice, created_at, closed_at "
                    f"FROM referrals WHERE advocate_id IN {adv} ORDER BY id",
                    p,
                ),
                "referred_by": await records(
                    db,
                    "SELECT r.public_id AS id, c.name AS advocate_name, r.friend_name, "
                    "r.friend_email, r.friend_phone, r.need, r.timing, r.relationship, "
                    "r.expects_contact, r.grade, r.status, r.created_at "
                    "FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
                    "JOIN customers c ON c.id = a.customer_id "
                    "WHERE r.friend_customer_id = :c OR lower(r.friend_email) = :e ORDER BY r.id",
                    p,
                ),
                "given_to_partners": await records(
                    db,
                    "SELECT g.public_id AS id, p.name AS partner, g.client_name, g.client_email, "
                    "g.note, g.status, g.created_at, g.closed_at FROM partner_referrals g "
                    "JOIN partners p ON p.id = g.partner_id WHERE lower(g.client_email) = :e "
                    "ORDER BY g.id",
                    p,
                ),
                "rewards": await records(
                    db,
                    "SELECT description, code, state, created_at, issued_at FROM rewards "
                    f"WHERE advocate_id IN {adv} ORDER BY id",
                    p,
                ),
                "replies": await records(
                    db,
                    "SELECT from_addr, subject, text, verdict, explanation, received_at "
                    "FROM replies WHERE customer_id = :c OR from_addr = :e ORDER BY id",
                    p,
                ),
                "public_answers": await records(
                    db,
                    "SELECT survey, email, score, comment, state, created_at, settled_at "
                    "FROM public_answers WHERE customer_id = :c OR email = :e ORDER BY id",
                    p,
                ),
                "emails": await records(
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
        """Erase one person's data, keep the anonymous facts; what was changed, by table, and
        `held`: whether anything was held about the address at all (False: already forgotten,
        or never known). Rows are found by the customer's id and by columns that hold an
        address exactly, never by searching text, so nobody else's rows change.
        ValueError when `email` is not an address; NoErasureKey without the daemon's secret."""
        address, hashed = suppression_keys(stored_address(email))
        keys = self.erasure_keys
        if not keys:
            raise NoErasureKey("forgetting needs the daemon's secret (secrets.signing_key_env)")
        mentions = _mentions(address)
        placeholder = f"forgotten-{secrets.token_hex(12)}@invalid"
        changed: dict[str, int] = {}
        async with self._write() as db:
            await db.execute("PRAGMA secure_delete = ON")
            cursor = await db.execute("SELECT id FROM customers WHERE email = ?", (address,))
            row = await cursor.fetchone()
            p: dict[str, Any] = {
                "c": int(row[0]) if row else -1,
                "e": address,
                "x": placeholder,
                "now": to_ms(now),
                "why": "the person asked to be forgotten",
            }
            # Their referrals, as advocate or as friend (read once: the updates below blank
            # the friend's address these are found by).
            cursor = await db.execute(
                "SELECT id FROM referrals WHERE friend_customer_id = :c "
                "OR lower(friend_email) = :e "
                "OR advocate_id IN (SELECT id FROM advocates WHERE customer_id = :c)",
                p,
            )
            p["refs"] = json.dumps([int(r[0]) for r in await cursor.fetchall()])
            refs = "(SELECT value FROM json_each(:refs))"
            steps = f"(SELECT id FROM referral_steps WHERE referral_id IN {refs})"
            rewards = f"(SELECT id FROM rewards WHERE referral_id IN {refs})"
            # Emails about them: to them, about them to the owner, about their referrals, and
            # the webhook deliveries of their referrals' facts (dedupe keys made by Vouch).
            about = f"""
                customer_id = :c OR lower(recipient) = :e
                OR dedupe_key IN (SELECT k || value FROM json_each(:refs),
                    (SELECT 'referral-owner:' AS k UNION ALL SELECT 'referral-thanks:'
                     UNION ALL SELECT 'referral-friend:'))
                OR dedupe_key IN (SELECT 'referral-step:' || id FROM {steps})
                OR dedupe_key IN (SELECT 'reward:' || id FROM {rewards})
                OR (kind = 'webhook' AND dedupe_key IN (
                    SELECT 'webhook:' || outbox.recipient || ':referral.created:' || value
                    FROM json_each(:refs)
                    UNION ALL SELECT 'webhook:' || outbox.recipient
                        || ':referral.status_changed:' || id FROM {steps}
                    UNION ALL SELECT 'webhook:' || outbox.recipient || ':reward.issued:' || id
                    FROM {rewards}))"""
            # The owner's digests that listed them: their open complaints, their referrals new
            # or won in the period, their rewards waiting (a digest is made after its period).
            start = "CAST(strftime('%s', substr(outbox.dedupe_key, 8)) AS INTEGER) * 1000"
            listed = f"""
                EXISTS (SELECT 1 FROM complaints k WHERE k.customer_id = :c
                        AND k.opened_at <= outbox.created_at
                        AND (k.resolved_at IS NULL OR k.resolved_at >= outbox.created_at))
                OR EXISTS (SELECT 1 FROM referrals f WHERE f.id IN {refs}
                        AND (f.created_at BETWEEN {start} AND outbox.created_at
                             OR f.closed_at BETWEEN {start} AND outbox.created_at))
                OR EXISTS (SELECT 1 FROM rewards w WHERE w.id IN {rewards}
                        AND w.created_at <= outbox.created_at
                        AND (w.issued_at IS NULL OR w.issued_at >= outbox.created_at))"""
            statements = {
                "emails": f"""
                    UPDATE outbox SET
                      message = X'',
                      recipient = CASE WHEN lower(recipient) = :e THEN :x ELSE recipient END,
                      last_error = CASE
                        WHEN state IN ('queued', 'sending') THEN :why
                        WHEN last_error IS NULL THEN NULL
                        ELSE 'erased with the person' END,
                      state = CASE WHEN state IN ('queued', 'sending') THEN 'suppressed'
                                   ELSE state END,
                      lease_owner = NULL,
                      updated_at = :now
                    WHERE {about}""",
                "digests": f"""
                    UPDATE outbox SET message = X'', updated_at = :now
                    WHERE kind = 'owner_digest' AND state NOT IN ('queued', 'sending')
                      AND message != X'' AND ({listed})""",
                "referral_notes": "UPDATE referral_steps SET note = NULL "
                f"WHERE referral_id IN {refs} AND note IS NOT NULL",
                "referrals": """
                    UPDATE referrals SET friend_name = NULL, friend_email = NULL,
                      friend_phone = NULL, need = NULL, timing = NULL, relationship = NULL,
                      updated_at = :now
                    WHERE id IN (SELECT value FROM json_each(:refs))""",
                "given_to_partners": "UPDATE partner_referrals SET client_name = NULL, "
                "client_email = NULL, note = NULL WHERE lower(client_email) = :e",
                "responses": "UPDATE responses SET comment = NULL WHERE customer_id = :c "
                "AND comment IS NOT NULL",
                "complaint_notes": "UPDATE complaints SET resolution = NULL "
                "WHERE customer_id = :c AND resolution IS NOT NULL",
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
                "public_answers": "DELETE FROM public_answers WHERE customer_id = :c OR email = :e",
            }
            for name, sql in statements.items():
                cursor = await db.execute(sql, p)
                changed[name] = cursor.rowcount
            changed["events"] = await _forget_events(db, p, keys[0], mentions)
            # A partner's address named in another's event (partner.joined_organization).
            cursor = await db.execute(
                "SELECT seq, payload FROM events WHERE customer_id IS NOT :c "
                "AND type = 'partner.joined_organization' AND json_valid(payload) "
                "AND lower(json_extract(payload, '$.data.email')) = :e",
                p,
            )
            named = [
                (_blank_payload(payload, mentions, None), seq)
                for seq, payload in await cursor.fetchall()
            ]
            await db.executemany("UPDATE events SET payload = ? WHERE seq = ?", named)
            changed["events"] += len(named)
            cursor = await db.execute(
                "SELECT id, external_id FROM responses WHERE customer_id = :c "
                "AND external_id IS NOT NULL",
                p,
            )
            kept = [(erased_key(keys[0], str(r[1])), r[0]) for r in await cursor.fetchall()]
            await db.executemany("UPDATE responses SET external_id = ? WHERE id = ?", kept)
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
            held = any(changed.values())
            await db.execute(
                "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (email) DO NOTHING",
                (hashed, FORGOTTEN, p["now"]),
            )
            if changed["customer"]:
                await db.execute(
                    "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?)",
                    (placeholder, FORGOTTEN, p["now"]),
                )
            await db.execute("PRAGMA secure_delete = OFF")
        checkpoint = await self.checkpoint()
        return {
            "address": address,
            "held": held,
            "placeholder": placeholder if changed["customer"] else None,
            "changed": changed,
            "wal_truncated": checkpoint,
        }

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the file and empty it; False if a reader held it."""
        async with self._reading() as db:
            cursor = await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = await cursor.fetchone()
        return row is not None and int(row[0]) == 0


class NoErasureKey(RuntimeError):
    """Forgetting keeps callers' keys as hashes keyed by the daemon's secret; without it, no."""


def erased_key(key: str, value: str) -> str:
    """What a caller's key (an event id, an answer's external id) of a forgotten person becomes:
    an HMAC keyed by the daemon's secret, so the same key sent again is still recognised (a
    replay stays a replay) while the file alone cannot confirm a guess of what it was."""
    mac = hmac.new(key.encode(), b"vouch erased key\0" + value.encode(), hashlib.sha256)
    return ERASED + mac.hexdigest()[:40]


def erased_keys(keys: Sequence[str], value: str) -> list[str]:
    """`value` as each key (the current secret, then retired ones) would have kept it."""
    return [erased_key(key, value) for key in keys]


def _mentions(address: str) -> re.Pattern[str]:
    """The address as a whole address in text: not inside a longer one (jo|ann@example.com,
    ann@example.com|.evil.org), in any case."""
    return re.compile(
        r"(?<![\w.!#$%&'*+/=?^`{|}~-])" + re.escape(address) + r"(?![\w-]|\.[\w-])",
        re.IGNORECASE,
    )


def _scrub(value: Any, mentions: re.Pattern[str], key: str = "") -> Any:
    """Data without what the person wrote or what names them (other values kept)."""
    if isinstance(value, dict):
        return {k: _scrub(v, mentions, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, mentions) for v in value]
    if isinstance(value, str) and (key in _FREE_TEXT or mentions.search(value)):
        return ""
    return value


def _blank_payload(payload: str, mentions: re.Pattern[str], whose: tuple[str, str] | None) -> str:
    """An event as received, without who it was about or what they wrote. `whose`: (the
    placeholder address, the kept id) when the event is the person's own."""
    try:
        event = json.loads(payload)
    except json.JSONDecodeError:
        return "{}"
    if not isinstance(event, dict):
        return "{}"
    if whose is not None:
        placeholder, event["id"] = whose
        if isinstance(event.get("customer"), dict):
            event["customer"] = {"email": placeholder}
    if "data" in event:
        event["data"] = _scrub(event["data"], mentions)
    return json.dumps(event, separators=(",", ":"), sort_keys=True)


def _blank_receipt(receipt: str, kept_id: str) -> str:
    try:
        answer = json.loads(receipt)
    except json.JSONDecodeError:
        return "{}"
    if isinstance(answer, dict):
        answer["id"] = kept_id
    return json.dumps(answer)


async def _forget_events(
    db: aiosqlite.Connection, p: dict[str, Any], key: str, mentions: re.Pattern[str]
) -> int:
    """The person's own events: their customer fields and what they wrote blanked, and each id
    (a caller's key, which may hold anything) kept only as its keyed hash, with the rows that
    refer to it by that id (their invitations, asks, testimonials) following it."""
    cursor = await db.execute(
        "SELECT seq, id, body_hash, payload, receipt FROM events WHERE customer_id = :c", p
    )
    rows = list(await cursor.fetchall())
    for seq, old, body_hash, payload, receipt in rows:
        new, body = erased_key(key, old), erased_key(key, body_hash)
        await db.execute(
            "UPDATE events SET id = ?, body_hash = ?, payload = ?, receipt = ? WHERE seq = ?",
            (
                new,
                body,
                _blank_payload(payload, mentions, (p["x"], new)),
                _blank_receipt(receipt, new),
                seq,
            ),
        )
        moves = {"c": p["c"], "old": old, "new": new}
        await db.execute(
            "UPDATE invitations SET event_id = :new WHERE customer_id = :c AND event_id = :old",
            moves,
        )
        for table, column in (("asks", "source"), ("testimonials", "origin")):
            await db.execute(
                f"UPDATE {table} SET {column} = 'event:' || :new "
                f"WHERE customer_id = :c AND {column} = 'event:' || :old",
                moves,
            )
    return len(rows)
