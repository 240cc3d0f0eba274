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
    (
        2,
        "the survey loop: invitations, responses, clicks, complaints",
        """
        ALTER TABLE customers ADD COLUMN public_id TEXT;        -- in signed links, never the row id
        UPDATE customers SET public_id = lower(hex(randomblob(16)));
        CREATE UNIQUE INDEX customers_public_id ON customers(public_id);

        ALTER TABLE events ADD COLUMN processed_at INTEGER;     -- NULL until the engine acted on it
        UPDATE events SET processed_at = received_at;
        CREATE INDEX events_unprocessed ON events(seq) WHERE processed_at IS NULL;

        CREATE TABLE invitations (
            id           INTEGER PRIMARY KEY,
            public_id    TEXT NOT NULL UNIQUE,
            customer_id  INTEGER NOT NULL REFERENCES customers(id),
            survey       TEXT NOT NULL,
            event_id     TEXT NOT NULL,                 -- the event that triggered it
            state        TEXT NOT NULL,                 -- scheduled, sent, answered, skipped
            reason       TEXT,                          -- why it was skipped
            due_at       INTEGER,                       -- the survey email, inside the send window
            sent_at      INTEGER,
            reminder_at  INTEGER,                       -- the one reminder; NULL once sent or moot
            reminded_at  INTEGER,
            expires_at   INTEGER,
            created_at   INTEGER NOT NULL,
            UNIQUE (event_id, survey)
        );
        CREATE INDEX invitations_due ON invitations(due_at) WHERE state = 'scheduled';
        CREATE INDEX invitations_reminder ON invitations(reminder_at)
            WHERE state = 'sent' AND reminder_at IS NOT NULL;
        CREATE INDEX invitations_customer ON invitations(customer_id, due_at);

        CREATE TABLE responses (
            id            INTEGER PRIMARY KEY,
            invitation_id INTEGER UNIQUE REFERENCES invitations(id),
            customer_id   INTEGER NOT NULL REFERENCES customers(id),
            survey        TEXT NOT NULL,
            score         INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
            segment       TEXT NOT NULL,
            comment       TEXT,
            source        TEXT NOT NULL,                -- page, click, webhook, reply
            external_id   TEXT UNIQUE,                  -- a webhook caller's idempotency key
            answered_at   INTEGER NOT NULL,
            updated_at    INTEGER NOT NULL
        );
        CREATE INDEX responses_customer ON responses(customer_id, answered_at);
        CREATE INDEX responses_answered ON responses(answered_at);

        CREATE TABLE clicks (                           -- scores clicked in an email, to confirm
            id            INTEGER PRIMARY KEY,
            invitation_id INTEGER NOT NULL REFERENCES invitations(id),
            score         INTEGER NOT NULL,
            at            INTEGER NOT NULL,
            state         TEXT NOT NULL                 -- pending, confirmed, scanner
        );
        CREATE INDEX clicks_pending ON clicks(at) WHERE state = 'pending';
        CREATE INDEX clicks_invitation ON clicks(invitation_id, at);

        CREATE TABLE complaints (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            response_id INTEGER NOT NULL UNIQUE REFERENCES responses(id),
            state       TEXT NOT NULL,                  -- open, resolved
            alerted     INTEGER NOT NULL DEFAULT 0,     -- the owner alert is in the outbox
            opened_at   INTEGER NOT NULL,
            resolved_at INTEGER,
            resolution  TEXT
        );
        CREATE INDEX complaints_open ON complaints(customer_id) WHERE state = 'open';
        CREATE INDEX complaints_unalerted ON complaints(id) WHERE alerted = 0;
        """,
    ),
]
