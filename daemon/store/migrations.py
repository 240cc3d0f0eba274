"""Schema migrations, numbered, applied in order at start; never edit one that has shipped."""

from __future__ import annotations

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "customers, events, outbox, suppressions",
        """
        CREATE TABLE customers (
            id          INTEGER PRIMARY KEY,
            email       TEXT NOT NULL UNIQUE,         -- lower-cased
            name        TEXT,
            external_id TEXT,
            timezone    TEXT,
            locale      TEXT,
            tags        TEXT NOT NULL DEFAULT '[]',   -- JSON list
            created_at  INTEGER NOT NULL,             -- epoch milliseconds, as every time here
            updated_at  INTEGER NOT NULL
        );

        CREATE TABLE events (
            seq         INTEGER PRIMARY KEY,
            id          TEXT NOT NULL UNIQUE,         -- the caller's idempotency key
            type        TEXT NOT NULL,
            known       INTEGER NOT NULL,
            occurred_at INTEGER NOT NULL,
            received_at INTEGER NOT NULL,
            customer_id INTEGER REFERENCES customers(id),
            body_hash   TEXT NOT NULL,
            payload     TEXT NOT NULL,                -- the event as received, JSON
            receipt     TEXT NOT NULL                 -- the answer given, replayed for the same id
        );
        CREATE INDEX events_customer ON events(customer_id, occurred_at);

        CREATE TABLE outbox (
            id            INTEGER PRIMARY KEY,
            dedupe_key    TEXT NOT NULL UNIQUE,       -- one row per logical email, ever
            kind          TEXT NOT NULL,
            customer_id   INTEGER REFERENCES customers(id),
            recipient     TEXT NOT NULL,
            envelope_from TEXT NOT NULL,
            message_id    TEXT NOT NULL,
            message       BLOB NOT NULL,              -- flattened once; retries send these bytes
            state         TEXT NOT NULL,
            due_at        INTEGER NOT NULL,           -- queued: not before; sending: lease expiry
            lease_owner   TEXT,
            attempts      INTEGER NOT NULL DEFAULT 0,
            last_error    TEXT,
            created_at    INTEGER NOT NULL,
            updated_at    INTEGER NOT NULL,
            sent_at       INTEGER
        );
        -- The sender's only hot query: its cost follows the due rows, not the table.
        CREATE INDEX outbox_due ON outbox(due_at) WHERE state IN ('queued', 'sending');
        CREATE INDEX outbox_customer ON outbox(customer_id);

        CREATE TABLE suppressions (
            email      TEXT PRIMARY KEY,              -- lower-cased
            reason     TEXT NOT NULL,
            created_at INTEGER NOT NULL
        );
        """,
    ),
]
