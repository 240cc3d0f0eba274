"""A person's data: everything the store holds about an address, and forgetting it.

Forgetting keeps the anonymous facts that make the reports true (scores, segments, dates,
counts, states) and erases what identifies or quotes the person: the address (replaced by a
random `forgotten-<hex>@invalid`), name, external id, tags, comments, testimonials, replies,
referral details (as advocate or as friend) and the notes on them, the bytes of emails about
them (the owner's digests that listed them too), the customer fields of their events, their
friend offer's code and what its redemptions said, and their answers through a public link. The
suppression stays, stored only as `sha256:<hex of the address>`, so the address is never
emailed again if it comes back, without being kept in clear.

Exactly one person: rows are found by the customer's id, by columns that hold an address
exactly (lower-cased), and by keys Vouch made from those rows, never by searching text for
the address (which found joann@ when forgetting ann@). Keys a caller chose (event ids, an
answer's external id) may hold anything, so the person's are kept as an HMAC keyed by the
daemon's secret: the same id sent again is still a replay, never recorded twice.

SQLite keeps old bytes in free space and in the write-ahead log, so forgetting runs with
`secure_delete` on (freed content is zeroed) and ends with a `wal_checkpoint(TRUNCATE)`
(PrivacySQL); on PostgreSQL see PrivacyPG."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from daemon.settings import stored_address
from daemon.store.db import DB
from daemon.store.outbox import suppression_keys
from daemon.store.pgdb import PGDB
from daemon.store.queries import Queries, Tx

FORGOTTEN = "forgotten"

ERASED = "erased:"

#: what a note that named the person or their event says once they are forgotten
ERASED_NOTE = "erased with the person"

# What a person wrote or is called, wherever it sits in an event's data.
_FREE_TEXT = frozenset({"text", "comment", "name", "phone", "note", "from", "subject"})


class Privacy(Protocol):
    """A person's data: exported, or forgotten (and the write-ahead log emptied after)."""

    async def person_export(self, email: str) -> dict[str, Any]: ...
    async def forget(self, email: str, now: datetime) -> dict[str, Any]: ...
    async def checkpoint(self) -> bool: ...


class PrivacyQueries(Queries):
    """Both halves' calls: the SQL is the same in both dialects but what each layer does to
    leave no old bytes behind (`_erasing`, `checkpoint`), a digest's period start
    (`_DIGEST_START`) and an event's named address (`_EVENT_EMAIL`)."""

    #: SQL for the start of the period an owner's digest row (outbox) covered, from its key
    _DIGEST_START: str
    #: SQL for the address in an event's data (`data.email`), lower-cased; NULL if none
    _EVENT_EMAIL: str

    async def _erasing(self, tx: Tx, on: bool) -> None:
        """Before (on) and after (off) the erasing statements of `forget`."""
        raise NotImplementedError

    async def checkpoint(self) -> bool:
        raise NotImplementedError

    async def person_export(self, email: str) -> dict[str, Any]:
        """Everything the store holds about an address (never the bytes of emails), as JSON."""
        address, hashed = suppression_keys(email)
        async with self._snapshot() as tx:
            found = await tx.records(
                "SELECT id, public_id, email, name, external_id, timezone, locale, tags, "
                "created_at, updated_at FROM customers WHERE email = ?",
                address,
            )
            customer = found[0] if found else None
            c = customer["id"] if customer else -1
            if customer:
                customer["tags"] = json.loads(customer["tags"] or "[]")
            adv = "(SELECT id FROM advocates WHERE customer_id = ?)"
            person: dict[str, Any] = {
                "address": address,
                "customer": customer,
                "suppression": await tx.records(
                    "SELECT email, reason, created_at FROM suppressions WHERE email IN (?, ?)",
                    address,
                    hashed,
                ),
                "bounces": await tx.records(
                    "SELECT kind, status, diagnostic, received_at FROM bounces WHERE email = ?",
                    address,
                ),
                "events": await tx.records(
                    "SELECT id, type, known, occurred_at, received_at, processed_at, payload "
                    "FROM events WHERE customer_id = ? ORDER BY occurred_at, seq",
                    c,
                ),
                "life_cycle": await tx.records(
                    "SELECT stage, at, kind AS by FROM stage_moves WHERE customer_id = ? "
                    "ORDER BY at",
                    c,
                ),
                "invitations": await tx.records(
                    "SELECT survey, event_id, state, reason, due_at, sent_at, reminded_at, "
                    "expires_at, created_at FROM invitations WHERE customer_id = ? ORDER BY id",
                    c,
                ),
                "responses": await tx.records(
                    "SELECT survey, score, segment, comment, source, answered_at, updated_at "
                    "FROM responses WHERE customer_id = ? ORDER BY answered_at",
                    c,
                ),
                "complaints": await tx.records(
                    "SELECT id, state, opened_at, resolved_at, resolution FROM complaints "
                    "WHERE customer_id = ? ORDER BY id",
                    c,
                ),
                "advocate": await tx.records(
                    "SELECT code, created_at FROM advocates WHERE customer_id = ?", c
                ),
                "asks": await tx.records(
                    "SELECT moment, source, state, reason, due_at, sent_at, created_at "
                    "FROM asks WHERE customer_id = ? ORDER BY id",
                    c,
                ),
                "influence_mark": await tx.records(
                    "SELECT mark, source, set_at FROM influence_marks WHERE customer_id = ?", c
                ),
                "testimonials": await tx.records(
                    "SELECT text, source, solicited, received_at FROM testimonials "
                    "WHERE customer_id = ? ORDER BY id",
                    c,
                ),
                "referrals_made": await tx.records(
                    "SELECT public_id AS id, friend_name, friend_email, friend_phone, need, "
                    "timing, relationship, expects_contact, advocate_introduces, grade, "
                    "channel, flag, status, value, reward_choice, attribution, "
                    "attribution_value, created_at, closed_at "
                    f"FROM referrals r WHERE advocate_id IN {adv} ORDER BY r.id",
                    c,
                ),
                "referred_by": await tx.records(
                    "SELECT r.public_id AS id, c.name AS advocate_name, r.friend_name, "
                    "r.friend_email, r.friend_phone, r.need, r.timing, r.relationship, "
                    "r.expects_contact, r.grade, r.status, r.created_at "
                    "FROM referrals r JOIN advocates a ON a.id = r.advocate_id "
                    "JOIN customers c ON c.id = a.customer_id "
                    "WHERE r.friend_customer_id = ? OR lower(r.friend_email) = ? ORDER BY r.id",
                    c,
                    address,
                ),
                "given_to_partners": await tx.records(
                    "SELECT g.public_id AS id, p.name AS partner, g.client_name, g.client_email, "
                    "g.note, g.status, g.created_at, g.closed_at FROM partner_referrals g "
                    "JOIN partners p ON p.id = g.partner_id WHERE lower(g.client_email) = ? "
                    "ORDER BY g.id",
                    address,
                ),
                "review_asks": await tx.records(
                    "SELECT public_id AS id, state, reason, due_at, sent_at, sites, created_at "
                    "FROM review_asks a WHERE customer_id = ? ORDER BY a.id",
                    c,
                ),
                "review_clicks": await tx.records(
                    "SELECT a.public_id AS review_ask, k.site_name, k.clicked_at, k.state "
                    "FROM review_clicks k JOIN review_asks a ON a.id = k.review_ask_id "
                    "WHERE a.customer_id = ? ORDER BY k.id",
                    c,
                ),
                "friend_code": await tx.records(
                    f"SELECT code, created_at FROM friend_codes WHERE advocate_id IN {adv}", c
                ),
                "friend_redemptions": await tx.records(
                    "SELECT CASE WHEN customer_id = ? THEN 'bought with it' "
                    "ELSE 'their code' END AS what, event_id, code, outcome, amount, "
                    f"redeemed_at FROM friend_redemptions WHERE customer_id = ? "
                    f"OR advocate_id IN {adv} ORDER BY id",
                    c,
                    c,
                    c,
                ),
                "rewards": await tx.records(
                    "SELECT description, code, state, created_at, issued_at FROM rewards "
                    f"WHERE advocate_id IN {adv} ORDER BY id",
                    c,
                ),
                "replies": await tx.records(
                    "SELECT from_addr, subject, text, verdict, explanation, received_at "
                    "FROM replies WHERE customer_id = ? OR from_addr = ? ORDER BY id",
                    c,
                    address,
                ),
                "public_answers": await tx.records(
                    "SELECT survey, email, score, comment, state, created_at, settled_at "
                    "FROM public_answers WHERE customer_id = ? OR email = ? ORDER BY id",
                    c,
                    address,
                ),
                "emails": await tx.records(
                    "SELECT kind, recipient, message_id, state, attempts, last_error, "
                    "created_at, sent_at FROM outbox "
                    "WHERE customer_id = ? OR lower(recipient) = ? ORDER BY id",
                    c,
                    address,
                ),
            }
        for event in person["events"]:
            event["payload"] = json.loads(event["payload"])
        for ask in person["review_asks"]:
            ask["sites"] = json.loads(ask["sites"] or "[]")
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
        why = "the person asked to be forgotten"
        changed: dict[str, int] = {}
        async with self._tx() as tx:
            await self._erasing(tx, True)
            # Locked: a second forget of the same person at once waits, then finds them gone.
            found = await tx.fetchval(
                f"SELECT id FROM customers WHERE email = ? {self._FOR_UPDATE}", address
            )
            c = int(found) if found is not None else -1
            # Their referrals, as advocate or as friend (read once: the updates below blank
            # the friend's address these are found by), and those referrals' steps and rewards.
            refs = [
                int(r[0])
                for r in await tx.fetch(
                    "SELECT id FROM referrals WHERE friend_customer_id = ? "
                    "OR lower(friend_email) = ? "
                    "OR advocate_id IN (SELECT id FROM advocates WHERE customer_id = ?)",
                    c,
                    address,
                    c,
                )
            ]
            of_refs, ref_ids = self._in(refs)
            steps = [
                int(r[0])
                for r in await tx.fetch(
                    f"SELECT id FROM referral_steps WHERE referral_id {of_refs}", *ref_ids
                )
            ]
            rewards = [
                int(r[0])
                for r in await tx.fetch(
                    f"SELECT id FROM rewards WHERE referral_id {of_refs}", *ref_ids
                )
            ]
            # Emails about them: to them, about them to the owner, about their referrals, and
            # the webhook deliveries of their referrals' facts (dedupe keys made by Vouch:
            # "webhook:<url>:<fact>", matched as the row's own url and one of these facts).
            made = [f"{k}{r}" for r in refs for k in _REFERRAL_KEYS]
            made += [f"referral-step:{i}" for i in steps] + [f"reward:{i}" for i in rewards]
            facts = [f":referral.created:{i}" for i in refs]
            facts += [f":referral.status_changed:{i}" for i in steps]
            facts += [f":reward.issued:{i}" for i in rewards]
            of_made, made_keys = self._in(made)
            of_facts, fact_keys = self._in(facts)
            about = (
                f"(customer_id = ? OR lower(recipient) = ? OR dedupe_key {of_made} "
                "OR (kind = 'webhook' "
                "AND substr(dedupe_key, 1, length(recipient) + 8) = 'webhook:' || recipient "
                f"AND substr(dedupe_key, length(recipient) + 9) {of_facts}))",
                (c, address, *made_keys, *fact_keys),
            )
            # The owner's digests that listed them: their open complaints, their referrals new
            # or won in the period, their rewards waiting (a digest is made after its period).
            of_rewards, reward_ids = self._in(rewards)
            start = self._DIGEST_START
            listed = (
                f"""EXISTS (SELECT 1 FROM complaints k WHERE k.customer_id = ?
                        AND k.opened_at <= outbox.created_at
                        AND (k.resolved_at IS NULL OR k.resolved_at >= outbox.created_at))
                OR EXISTS (SELECT 1 FROM referrals f WHERE f.id {of_refs}
                        AND (f.created_at BETWEEN {start} AND outbox.created_at
                             OR f.closed_at BETWEEN {start} AND outbox.created_at))
                OR EXISTS (SELECT 1 FROM rewards w WHERE w.id {of_rewards}
                        AND w.created_at <= outbox.created_at
                        AND (w.issued_at IS NULL OR w.issued_at >= outbox.created_at))""",
                (c, *ref_ids, *reward_ids),
            )
            statements: dict[str, tuple[str, tuple[Any, ...]]] = {
                "emails": (
                    f"""
                    UPDATE outbox SET
                      message = ?,
                      recipient = CASE WHEN lower(recipient) = ? THEN ? ELSE recipient END,
                      last_error = CASE
                        WHEN state IN ('queued', 'sending') THEN ?
                        WHEN last_error IS NULL THEN NULL
                        ELSE 'erased with the person' END,
                      state = CASE WHEN state IN ('queued', 'sending') THEN 'suppressed'
                                   ELSE state END,
                      lease_owner = NULL,
                      updated_at = ?
                    WHERE {about[0]}""",
                    (b"", address, placeholder, why, now, *about[1]),
                ),
                "digests": (
                    f"""
                    UPDATE outbox SET message = ?, updated_at = ?
                    WHERE kind = 'owner_digest' AND state NOT IN ('queued', 'sending')
                      AND message != ? AND ({listed[0]})""",
                    (b"", now, b"", *listed[1]),
                ),
                "referral_notes": (
                    "UPDATE referral_steps SET note = NULL "
                    f"WHERE referral_id {of_refs} AND note IS NOT NULL",
                    ref_ids,
                ),
                "referrals": (
                    """
                    UPDATE referrals SET friend_name = NULL, friend_email = NULL,
                      friend_phone = NULL, need = NULL, timing = NULL, relationship = NULL,
                      attribution = CASE WHEN attribution IS NULL THEN NULL ELSE ? END,
                      updated_at = ?
                    WHERE id """
                    + of_refs,
                    (ERASED_NOTE, now, *ref_ids),
                ),
                # their friend offer's code goes (a purchase carrying it credits nobody now);
                # a redemption keeps its facts, not the code nor the words naming the event
                "friend_code": (
                    "DELETE FROM friend_codes WHERE advocate_id IN "
                    "(SELECT id FROM advocates WHERE customer_id = ?)",
                    (c,),
                ),
                "friend_redemptions": (
                    "UPDATE friend_redemptions SET code = '', outcome = ? WHERE customer_id = ? "
                    "OR advocate_id IN (SELECT id FROM advocates WHERE customer_id = ?)",
                    (ERASED_NOTE, c, c),
                ),
                "review_asks": (
                    "UPDATE review_asks SET state = 'skipped', reason = ? "
                    "WHERE customer_id = ? AND state = 'scheduled'",
                    (why, c),
                ),
                "given_to_partners": (
                    "UPDATE partner_referrals SET client_name = NULL, "
                    "client_email = NULL, note = NULL WHERE lower(client_email) = ?",
                    (address,),
                ),
                "responses": (
                    "UPDATE responses SET comment = NULL WHERE customer_id = ? "
                    "AND comment IS NOT NULL",
                    (c,),
                ),
                "complaint_notes": (
                    "UPDATE complaints SET resolution = NULL "
                    "WHERE customer_id = ? AND resolution IS NOT NULL",
                    (c,),
                ),
                "testimonials": ("UPDATE testimonials SET text = '' WHERE customer_id = ?", (c,)),
                "replies": (
                    "UPDATE replies SET from_addr = '', subject = NULL, text = '', "
                    "explanation = ? WHERE customer_id = ? OR from_addr = ?",
                    (why, c, address),
                ),
                "invitations": (
                    "UPDATE invitations SET state = 'skipped', reason = ? "
                    "WHERE customer_id = ? AND state = 'scheduled'",
                    (why, c),
                ),
                "reminders": (
                    "UPDATE invitations SET reminder_at = NULL "
                    "WHERE customer_id = ? AND reminder_at IS NOT NULL",
                    (c,),
                ),
                "asks": (
                    "UPDATE asks SET state = 'skipped', reason = ? "
                    "WHERE customer_id = ? AND state IN ('scheduled', 'waiting')",
                    (why, c),
                ),
                "influence_mark": ("DELETE FROM influence_marks WHERE customer_id = ?", (c,)),
                "set_aside": ("UPDATE set_aside SET error = ? WHERE customer_id = ?", (why, c)),
                "public_answers": (
                    "DELETE FROM public_answers WHERE customer_id = ? OR email = ?",
                    (c, address),
                ),
            }
            for name, (sql, params) in statements.items():
                changed[name] = await tx.execute(sql, *params)
            changed["events"] = await _forget_events(tx, c, placeholder, keys[0], mentions)
            # A partner's address named in another's event (partner.joined_organization).
            rows = await tx.fetch(
                "SELECT seq, payload FROM events WHERE (customer_id IS NULL OR customer_id != ?) "
                f"AND type = 'partner.joined_organization' AND {self._EVENT_EMAIL} = ?",
                c,
                address,
            )
            named = [(_blank_payload(payload, mentions, None), seq) for seq, payload in rows]
            await tx.executemany("UPDATE events SET payload = ? WHERE seq = ?", named)
            changed["events"] += len(named)
            rows = await tx.fetch(
                "SELECT id, external_id FROM responses WHERE customer_id = ? "
                "AND external_id IS NOT NULL",
                c,
            )
            kept = [(erased_key(keys[0], str(r[1])), r[0]) for r in rows]
            await tx.executemany("UPDATE responses SET external_id = ? WHERE id = ?", kept)
            changed["customer"] = await tx.execute(
                "UPDATE customers SET email = ?, name = NULL, external_id = NULL, "
                "tags = '[]', updated_at = ? WHERE id = ?",
                placeholder,
                now,
                c,
            )
            changed["bounces"] = await tx.execute("DELETE FROM bounces WHERE email = ?", address)
            changed["suppression_replaced"] = await tx.execute(
                "DELETE FROM suppressions WHERE email = ?", address
            )
            held = any(changed.values())
            await tx.execute(
                "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?) "
                "ON CONFLICT (email) DO NOTHING",
                hashed,
                FORGOTTEN,
                now,
            )
            if changed["customer"]:
                await tx.execute(
                    "INSERT INTO suppressions (email, reason, created_at) VALUES (?, ?, ?)",
                    placeholder,
                    FORGOTTEN,
                    now,
                )
            await self._erasing(tx, False)
        checkpoint = await self.checkpoint()
        return {
            "address": address,
            "held": held,
            "placeholder": placeholder if changed["customer"] else None,
            "changed": changed,
            "wal_truncated": checkpoint,
        }


class PrivacySQL(PrivacyQueries, DB):
    """SQLite keeps old bytes in free space and in the write-ahead log: forgetting runs with
    `secure_delete` on (freed content is zeroed) and ends with a `wal_checkpoint(TRUNCATE)`."""

    _DIGEST_START = "CAST(strftime('%s', substr(outbox.dedupe_key, 8)) AS INTEGER) * 1000"
    _EVENT_EMAIL = (
        "CASE WHEN json_valid(payload) THEN lower(json_extract(payload, '$.data.email')) END"
    )

    async def _erasing(self, tx: Tx, on: bool) -> None:
        await tx.execute(f"PRAGMA secure_delete = {'ON' if on else 'OFF'}")

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the file and empty it; False if a reader held it."""
        async with self._reading() as db:
            cursor = await db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = await cursor.fetchone()
        return row is not None and int(row[0]) == 0


class PrivacyPG(PrivacyQueries, PGDB):
    """A person's data on PostgreSQL. Its old row versions stay in the table's pages until
    autovacuum reclaims them, and in its write-ahead log until recycled; nothing a client
    can zero, so `checkpoint` says False."""

    # keys are "digest:<UTC start>Z"; only a digest's key is read as a time
    _DIGEST_START = (
        "CASE WHEN outbox.kind = 'owner_digest' "
        "THEN CAST(substr(outbox.dedupe_key, 8) AS timestamptz) END"
    )
    _EVENT_EMAIL = "lower(payload -> 'data' ->> 'email')"  # payload is jsonb: always valid

    async def _erasing(self, tx: Tx, on: bool) -> None:
        pass

    async def checkpoint(self) -> bool:
        return False


_REFERRAL_KEYS = ("referral-owner:", "referral-thanks:", "referral-friend:")


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
    tx: Tx, c: int, placeholder: str, key: str, mentions: re.Pattern[str]
) -> int:
    """The person's own events: their customer fields and what they wrote blanked, and each id
    (a caller's key, which may hold anything) kept only as its keyed hash, with the rows that
    refer to it by that id (their invitations, asks, testimonials) following it."""
    rows = await tx.fetch(
        "SELECT seq, id, body_hash, payload, receipt FROM events WHERE customer_id = ?", c
    )
    for seq, old, body_hash, payload, receipt in rows:
        new, body = erased_key(key, old), erased_key(key, body_hash)
        await tx.execute(
            "UPDATE events SET id = ?, body_hash = ?, payload = ?, receipt = ? WHERE seq = ?",
            new,
            body,
            _blank_payload(payload, mentions, (placeholder, new)),
            _blank_receipt(receipt, new),
            seq,
        )
        for table in ("invitations", "friend_redemptions"):
            await tx.execute(
                f"UPDATE {table} SET event_id = ? WHERE customer_id = ? AND event_id = ?",
                new,
                c,
                old,
            )
        for table, column in (("asks", "source"), ("testimonials", "origin")):
            await tx.execute(
                f"UPDATE {table} SET {column} = ? WHERE customer_id = ? AND {column} = ?",
                f"event:{new}",
                c,
                f"event:{old}",
            )
    return len(rows)
