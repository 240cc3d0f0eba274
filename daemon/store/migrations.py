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
    (
        3,
        "the referral engine: advocates, asks, testimonials, replies, referrals, rewards",
        """
        CREATE TABLE advocates (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL UNIQUE REFERENCES customers(id),
            code        TEXT NOT NULL UNIQUE,           -- /r/{code}: unguessable, stable
            created_at  INTEGER NOT NULL
        );

        CREATE TABLE asks (                             -- one row per moment considered
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            moment      TEXT NOT NULL,                  -- project_completed, testimonial, ...
            source      TEXT NOT NULL,                  -- what made the moment (event, reply...)
            state       TEXT NOT NULL,                  -- waiting, scheduled, sent, skipped
            reason      TEXT,                           -- why not (skipped), what for (waiting)
            due_at      INTEGER,
            expires_at  INTEGER,                        -- a waiting moment lapses after this
            sent_at     INTEGER,
            created_at  INTEGER NOT NULL,
            UNIQUE (moment, source)
        );
        CREATE INDEX asks_due ON asks(due_at) WHERE state = 'scheduled';
        CREATE INDEX asks_waiting ON asks(customer_id) WHERE state = 'waiting';
        CREATE INDEX asks_customer ON asks(customer_id, sent_at);

        CREATE TABLE testimonials (
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            text        TEXT NOT NULL,
            source      TEXT NOT NULL,                  -- email, review, owner, reply
            solicited   INTEGER NOT NULL,
            origin      TEXT NOT NULL UNIQUE,           -- the event id or reply id it came from
            received_at INTEGER NOT NULL
        );

        CREATE TABLE replies (                          -- inbound replies to Vouch emails
            id          INTEGER PRIMARY KEY,
            customer_id INTEGER REFERENCES customers(id),
            outbox_id   INTEGER REFERENCES outbox(id),
            from_addr   TEXT NOT NULL,
            subject     TEXT,
            text        TEXT NOT NULL,                  -- the new part, quotes stripped
            verdict     TEXT NOT NULL,                  -- score, praise, other, unmatched
            explanation TEXT NOT NULL,                  -- why, in words, for the owner
            dedupe      TEXT NOT NULL UNIQUE,
            received_at INTEGER NOT NULL
        );

        CREATE TABLE referrals (
            id                  INTEGER PRIMARY KEY,
            public_id           TEXT NOT NULL UNIQUE,   -- in the API and CLI, never the row id
            advocate_id         INTEGER NOT NULL REFERENCES advocates(id),
            friend_customer_id  INTEGER REFERENCES customers(id),
            friend_name         TEXT,
            friend_email        TEXT,
            friend_phone        TEXT,
            need                TEXT,
            timing              TEXT,
            relationship        TEXT,
            expects_contact     INTEGER NOT NULL,
            advocate_introduces INTEGER NOT NULL,
            public_thanks_ok    INTEGER NOT NULL DEFAULT 0,
            reward_choice       TEXT,
            grade               TEXT NOT NULL,          -- A, B, C
            channel             TEXT NOT NULL,          -- introduce (advocate), landing (friend)
            flag                TEXT,                   -- e.g. a self-referral: no reward
            status              TEXT NOT NULL,          -- new, contacted, meeting, won, lost
            value               REAL,
            created_at          INTEGER NOT NULL,
            updated_at          INTEGER NOT NULL,
            contacted_at        INTEGER,
            closed_at           INTEGER,
            notified            INTEGER NOT NULL DEFAULT 0  -- owner, advocate, friend emails queued
        );
        CREATE INDEX referrals_unnotified ON referrals(id) WHERE notified = 0;
        CREATE INDEX referrals_advocate ON referrals(advocate_id, created_at);

        CREATE TABLE referral_steps (
            id          INTEGER PRIMARY KEY,
            referral_id INTEGER NOT NULL REFERENCES referrals(id),
            status      TEXT NOT NULL,
            note        TEXT,
            shared      INTEGER NOT NULL,               -- the advocate is to be told
            notified    INTEGER NOT NULL DEFAULT 0,     -- and the note is in the outbox
            at          INTEGER NOT NULL
        );
        CREATE INDEX referral_steps_unnotified ON referral_steps(id) WHERE notified = 0;
        CREATE INDEX referral_steps_referral ON referral_steps(referral_id, at);

        CREATE TABLE rewards (
            id          INTEGER PRIMARY KEY,
            referral_id INTEGER NOT NULL UNIQUE REFERENCES referrals(id),  -- never two
            advocate_id INTEGER NOT NULL REFERENCES advocates(id),
            description TEXT NOT NULL,
            code        TEXT,
            state       TEXT NOT NULL,                  -- awaiting_approval, awaiting_code, issued
            created_at  INTEGER NOT NULL,
            issued_at   INTEGER,
            notified    INTEGER NOT NULL DEFAULT 0      -- the thank-you with the reward is queued
        );
        CREATE INDEX rewards_unnotified ON rewards(id) WHERE notified = 0 AND state = 'issued';

        CREATE TABLE reward_codes (                     -- a pool the owner loads
            code        TEXT PRIMARY KEY,
            reward_id   INTEGER UNIQUE REFERENCES rewards(id),
            loaded_at   INTEGER NOT NULL
        );
        CREATE INDEX reward_codes_free ON reward_codes(loaded_at) WHERE reward_id IS NULL;
        """,
    ),
    (
        4,
        "bounces and complaints that arrive as mail (RFC 3464 DSNs, RFC 5965 ARF reports)",
        """
        CREATE TABLE bounces (
            id                  INTEGER PRIMARY KEY,
            email               TEXT NOT NULL,          -- lower-cased
            kind                TEXT NOT NULL,          -- hard_bounce, soft_bounce, complaint
            status              TEXT,                   -- 5.1.1, 4.2.2; NULL for a complaint
            diagnostic          TEXT,                   -- the server's words; the ARF type
            original_message_id TEXT,                   -- the Vouch email that bounced
            dedupe              TEXT NOT NULL,          -- the report's Message-ID or hash
            received_at         INTEGER NOT NULL,
            UNIQUE (dedupe, email)                      -- a report delivered twice counts once
        );
        CREATE INDEX bounces_email ON bounces(email, kind);
        """,
    ),
    (
        7,
        "webhooks: which facts are in the outbox for the owner's endpoints",
        """
        ALTER TABLE responses ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE complaints ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE referrals ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE referral_steps ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE rewards ADD COLUMN reported INTEGER NOT NULL DEFAULT 0;
        -- What happened before webhooks existed is history, not news.
        UPDATE responses SET reported = 1;
        UPDATE complaints SET reported = 1;
        UPDATE referrals SET reported = 1;
        UPDATE referral_steps SET reported = 1;
        UPDATE rewards SET reported = 1 WHERE state = 'issued';
        CREATE INDEX responses_unreported ON responses(id) WHERE reported = 0;
        CREATE INDEX complaints_unreported ON complaints(id) WHERE reported = 0;
        CREATE INDEX referrals_unreported ON referrals(id) WHERE reported = 0;
        CREATE INDEX referral_steps_unreported ON referral_steps(id) WHERE reported = 0;
        CREATE INDEX rewards_unreported ON rewards(id) WHERE reported = 0 AND state = 'issued';
        """,
    ),
    (
        8,
        "partners: businesses that refer clients both ways",
        """
        -- A partner refers through the same machinery as a customer. Its contact address is a
        -- row in customers (as a referred friend's is) with an advocates row, so its code lives
        -- in the one code namespace (advocates.code is UNIQUE: a partner's code cannot collide
        -- with a customer's) and its referrals, steps, follow-up notes, rewards and asks are the
        -- ordinary rows keyed by advocate_id or customer_id. So referrals needs no rebuild and
        -- advocate_id stays NOT NULL. New here: the partner's own facts (partners) and the
        -- referrals the owner gives TO a partner (partner_referrals), which have no advocate,
        -- no form and no emails, only a client, a note and an outcome.
        CREATE TABLE partners (
            id          INTEGER PRIMARY KEY,
            public_id   TEXT NOT NULL UNIQUE,           -- p_...: in the API and CLI
            advocate_id INTEGER NOT NULL UNIQUE REFERENCES advocates(id),
            name        TEXT NOT NULL,                  -- the business
            trade       TEXT NOT NULL,                  -- what they do
            wants       TEXT NOT NULL,                  -- the kind of client they want
            reward      INTEGER NOT NULL DEFAULT 0,     -- their referrals earn the reward
            created_at  INTEGER NOT NULL,
            updated_at  INTEGER NOT NULL
        );

        CREATE TABLE partner_referrals (                -- given by the owner TO a partner
            id           INTEGER PRIMARY KEY,
            public_id    TEXT NOT NULL UNIQUE,          -- g_...
            partner_id   INTEGER NOT NULL REFERENCES partners(id),
            client_name  TEXT,
            client_email TEXT,
            note         TEXT,
            status       TEXT NOT NULL,                 -- given, won, lost
            value        REAL,
            created_at   INTEGER NOT NULL,
            closed_at    INTEGER
        );
        CREATE INDEX partner_referrals_partner ON partner_referrals(partner_id, created_at);
        """,
    ),
    (
        9,
        "offer tests (each advocate's promised offer) and influence (the owner's mark)",
        """
        CREATE TABLE offer_assignments (                -- the offer an advocate was promised
            advocate_id INTEGER PRIMARY KEY REFERENCES advocates(id),
            offer_id    TEXT NOT NULL,
            text        TEXT,                           -- the terms as they stood: kept
            reward      TEXT NOT NULL,
            choices     TEXT NOT NULL DEFAULT '[]',     -- JSON list
            assigned_at INTEGER NOT NULL
        );
        CREATE INDEX offer_assignments_offer ON offer_assignments(offer_id);

        CREATE TABLE influence_marks (                  -- the owner's judgement, 0-10
            customer_id INTEGER PRIMARY KEY REFERENCES customers(id),
            mark        INTEGER NOT NULL CHECK (mark BETWEEN 0 AND 10),
            source      TEXT NOT NULL,                  -- owner, api, import
            set_at      INTEGER NOT NULL
        );

        CREATE INDEX asks_sent_at ON asks(sent_at) WHERE state = 'sent';
        CREATE INDEX testimonials_customer ON testimonials(customer_id);
        """,
    ),
    (
        11,
        "the customer life cycle: each customer's stage and the road that led there",
        """
        CREATE TABLE customer_stages (                  -- where each customer stands now
            customer_id INTEGER PRIMARY KEY REFERENCES customers(id),
            stage       TEXT NOT NULL,                  -- know, like, trust, try, buy, ...
            since       INTEGER NOT NULL                -- when they reached it
        );
        CREATE INDEX customer_stages_stage ON customer_stages(stage);

        CREATE TABLE stage_moves (                      -- the road: one row per stage reached
            customer_id INTEGER NOT NULL REFERENCES customers(id),
            stage       TEXT NOT NULL,
            at          INTEGER NOT NULL,               -- when the fact that moved them happened
            kind        TEXT NOT NULL,                  -- an event type, referral or referred
            source      TEXT NOT NULL,                  -- event:<seq> or referral:<id>, never a key
            PRIMARY KEY (customer_id, stage)
        );
        CREATE INDEX stage_moves_at ON stage_moves(at, stage);   -- the monthly counts, covered

        CREATE TABLE stage_pending (                    -- customers whose road is to be worked out
            customer_id INTEGER PRIMARY KEY
        );
        INSERT INTO stage_pending (customer_id) SELECT id FROM customers;  -- the backfill

        CREATE INDEX referrals_friend ON referrals(friend_customer_id);
        """,
    ),
    (
        12,
        "survey and reminder emails rendered when the sender claims them",
        """
        -- Set on survey and reminder rows: queued with an empty message (X''), rendered from
        -- this invitation when the sender claims the row; the bytes are stored before sending.
        ALTER TABLE outbox ADD COLUMN invitation_id INTEGER REFERENCES invitations(id);
        """,
    ),
    (
        13,
        "work set aside: an item a sweep could not do, with its error",
        """
        -- One row per item set aside; the item itself is taken off its queue (an event marked
        -- processed, an invitation skipped, a complaint's alert = 2 ...), so it is not retried
        -- every tick and does not hold up the rest. Shown to the owner with the error.
        CREATE TABLE set_aside (
            id          INTEGER PRIMARY KEY,
            kind        TEXT NOT NULL,                  -- event, survey, reminder, webhook, ...
            item        TEXT NOT NULL,                  -- its key in its own table
            customer_id INTEGER REFERENCES customers(id),  -- whom it was for, if anyone
            error       TEXT NOT NULL,
            at          INTEGER NOT NULL,
            UNIQUE (kind, item)
        );
        CREATE INDEX set_aside_customer ON set_aside(customer_id) WHERE customer_id IS NOT NULL;
        CREATE INDEX set_aside_at ON set_aside(at);

        CREATE TABLE write_probe (pad BLOB);            -- /healthz: can the store still write?
        """,
    ),
    (
        14,
        "sending paused while the relay refuses us",
        """
        CREATE TABLE sending_pause (                    -- no row: sending; one row: paused
            id           INTEGER PRIMARY KEY CHECK (id = 1),
            reason       TEXT NOT NULL,                 -- the relay's reply
            since        INTEGER NOT NULL,
            probe_at     INTEGER NOT NULL,              -- when one email is tried again
            wait_seconds REAL NOT NULL                  -- the wait before probe_at
        );
        """,
    ),
    (
        15,
        "a reply to a survey email counts as an answer for its reminder",
        """
        ALTER TABLE invitations ADD COLUMN replied_at INTEGER;  -- the first reply to it, if any
        """,
    ),
    (
        16,
        "re-subscribing: the owner lifts an unsubscribe, recorded with who and when",
        """
        CREATE TABLE resubscriptions (
            id             INTEGER PRIMARY KEY,
            address_hash   TEXT NOT NULL,      -- sha256:<hex> of the address, as forget keeps it
            reason         TEXT NOT NULL,      -- the suppression lifted
            suppressed_at  INTEGER NOT NULL,
            by             TEXT NOT NULL,      -- cli:<user> or api
            at             INTEGER NOT NULL
        );
        CREATE INDEX resubscriptions_address ON resubscriptions(address_hash);
        """,
    ),
    (
        17,
        "dashboard sessions, so that logging out ends one on the server",
        """
        -- A session cookie is honoured only while its id is here: logging out deletes the row,
        -- so the cookie replayed after is refused though its signature and expiry still hold.
        -- Sessions made before this migration are not here: the owner logs in once more.
        CREATE TABLE admin_sessions (
            id          BLOB PRIMARY KEY,               -- the random id the cookie carries
            expires_at  INTEGER NOT NULL
        );
        """,
    ),
    (
        18,
        "when the store began, so that no digest covers a time before it",
        """
        CREATE TABLE store_marks (
            name TEXT PRIMARY KEY,                      -- created
            at   INTEGER NOT NULL
        );
        -- A store in use before this migration began at its earliest record; a new one is
        -- marked at the daemon's first start on it, on the daemon's clock (store_created).
        INSERT INTO store_marks (name, at)
        SELECT 'created', t FROM (
            SELECT min(t) AS t FROM (
                SELECT min(created_at) AS t FROM customers
                UNION ALL SELECT min(received_at) FROM events
                UNION ALL SELECT min(created_at) FROM outbox
            )
        ) WHERE t IS NOT NULL;
        """,
    ),
    (
        19,
        "named dashboard users; sessions and the actions of the dashboard bound to one",
        """
        CREATE TABLE users (
            id             INTEGER PRIMARY KEY,
            email          TEXT NOT NULL UNIQUE,       -- trimmed, lower-cased
            name           TEXT NOT NULL,
            role           TEXT NOT NULL CHECK (role IN ('owner', 'staff')),
            password_hash  TEXT NOT NULL,              -- argon2id, never the password
            created_at     INTEGER NOT NULL,
            updated_at     INTEGER NOT NULL,
            disabled_at    INTEGER                     -- set: cannot log in, no session open
        );
        -- NULL: the shared-password owner (honoured only while no user exists).
        ALTER TABLE admin_sessions ADD COLUMN user_id INTEGER REFERENCES users(id);
        CREATE INDEX admin_sessions_user ON admin_sessions(user_id);
        -- Who did what from the dashboard: the name as it was then, kept if the user goes.
        CREATE TABLE admin_actions (
            id       INTEGER PRIMARY KEY,
            at       INTEGER NOT NULL,
            user_id  INTEGER,                          -- NULL: the shared-password owner
            by       TEXT NOT NULL,                    -- the user's name
            action   TEXT NOT NULL,                    -- e.g. complaint resolved
            item     TEXT NOT NULL                     -- e.g. complaint:12, referral:r_...
        );
        CREATE INDEX admin_actions_item ON admin_actions(item, at);
        """,
    ),
    (
        20,
        "attribution: what a friend's purchase matched on a referral, and its amount",
        """
        -- Set once, by the first purchase that credits the referral (in words, for the owner);
        -- with referrals.attribution = "confirm" it waits on a referral not yet won or lost.
        ALTER TABLE referrals ADD COLUMN attribution TEXT;
        ALTER TABLE referrals ADD COLUMN attribution_value REAL;
        """,
    ),
    (
        21,
        "leases: the one process at a time that plans (the scheduler), taken over when it dies",
        """
        CREATE TABLE leases (
            name        TEXT PRIMARY KEY,              -- the job, e.g. "scheduler"
            holder      TEXT NOT NULL,                 -- the process: instance@host:pid
            expires_at  INTEGER NOT NULL               -- another may take it from then
        );
        """,
    ),
    (
        22,
        "answers through a survey's public link: a customer's once confirmed, others apart",
        """
        CREATE TABLE public_answers (
            id           INTEGER PRIMARY KEY,
            public_id    TEXT NOT NULL UNIQUE,         -- in the confirmation link
            survey       TEXT NOT NULL,
            email        TEXT NOT NULL,                -- trimmed, lower-cased, as typed
            customer_id  INTEGER REFERENCES customers(id),  -- a known customer's; else NULL
            score        INTEGER NOT NULL CHECK (score BETWEEN 0 AND 10),
            comment      TEXT,
            locale       TEXT,
            -- pending: a customer's, until they confirm it from their inbox; counted: it is
            -- their answer now; throttled: confirmed, but they were surveyed lately (kept
            -- apart); apart: not a customer's address (kept apart, never in the NPS)
            state        TEXT NOT NULL,
            created_at   INTEGER NOT NULL,
            settled_at   INTEGER
        );
        CREATE INDEX public_answers_email ON public_answers(email, created_at);
        CREATE INDEX public_answers_month ON public_answers(created_at);
        """,
    ),
    (
        23,
        "review asks and the review sites clicked; the friend offer's codes and redemptions",
        """
        -- One review ask a promoter answer plans (at most one scheduled per customer); the
        -- scheduler sends it when due, or skips it with its reason. `sites` is the list of
        -- review sites as the email named them (JSON: [{"name", "url"}]), so a link keeps
        -- pointing where it said after the owner edits [[reviews.sites]].
        CREATE TABLE review_asks (
            id           INTEGER PRIMARY KEY,
            public_id    TEXT NOT NULL UNIQUE,       -- random: the redirect's token names it
            customer_id  INTEGER NOT NULL REFERENCES customers(id),
            source       TEXT NOT NULL UNIQUE,       -- what planned it, e.g. response:12
            state        TEXT NOT NULL,              -- scheduled, sent, skipped
            reason       TEXT,                       -- why it was skipped
            due_at       INTEGER,
            sent_at      INTEGER,
            sites        TEXT,
            created_at   INTEGER NOT NULL
        );
        CREATE UNIQUE INDEX review_asks_one_scheduled ON review_asks(customer_id)
            WHERE state = 'scheduled';
        CREATE INDEX review_asks_due ON review_asks(due_at) WHERE state = 'scheduled';
        CREATE INDEX review_asks_sent ON review_asks(customer_id, sent_at)
            WHERE sent_at IS NOT NULL;
        -- A click on a review link is pending until judged like a survey score's click
        -- (daemon/engine/clicks.py): a person's, or a mail scanner's.
        CREATE TABLE review_clicks (
            id             INTEGER PRIMARY KEY,
            review_ask_id  INTEGER NOT NULL REFERENCES review_asks(id),
            site           INTEGER NOT NULL,         -- the site's place in review_asks.sites
            site_name      TEXT NOT NULL,
            clicked_at     INTEGER NOT NULL,
            state          TEXT NOT NULL DEFAULT 'pending'  -- pending, person, scanner
        );
        CREATE INDEX review_clicks_pending ON review_clicks(review_ask_id)
            WHERE state = 'pending';
        CREATE INDEX review_clicks_at ON review_clicks(clicked_at);
        -- The friend offer's code of each advocate: its own, made when first shown, kept
        -- (upper case, typed at a checkout; a purchase carrying it credits that advocate).
        CREATE TABLE friend_codes (
            advocate_id  INTEGER PRIMARY KEY REFERENCES advocates(id),
            code         TEXT NOT NULL UNIQUE,
            created_at   INTEGER NOT NULL
        );
        -- A purchase that carried a friend code: once per event, with what it credited.
        CREATE TABLE friend_redemptions (
            id           INTEGER PRIMARY KEY,
            event_id     TEXT NOT NULL UNIQUE,
            advocate_id  INTEGER NOT NULL REFERENCES advocates(id),
            customer_id  INTEGER REFERENCES customers(id),   -- the buyer
            code         TEXT NOT NULL,
            referral_id  INTEGER REFERENCES referrals(id),   -- the referral it credited, if any
            outcome      TEXT NOT NULL,                      -- what attribution decided, in words
            amount       REAL,
            redeemed_at  INTEGER NOT NULL
        );
        CREATE INDEX friend_redemptions_advocate ON friend_redemptions(advocate_id);
        """,
    ),
    (
        24,
        "the owner's private notes on a customer or a referral, with who wrote them and when",
        """
        -- Never shown to the customer or the advocate; erased with the person (vouch forget).
        CREATE TABLE owner_notes (
            id           INTEGER PRIMARY KEY,
            customer_id  INTEGER REFERENCES customers(id),
            referral_id  INTEGER REFERENCES referrals(id),
            at           INTEGER NOT NULL,
            user_id      INTEGER,                      -- NULL: the shared-password owner
            by           TEXT NOT NULL,                -- the writer's name as it was then
            text         TEXT NOT NULL,
            CHECK ((customer_id IS NULL) <> (referral_id IS NULL))
        );
        CREATE INDEX owner_notes_customer ON owner_notes(customer_id, at);
        CREATE INDEX owner_notes_referral ON owner_notes(referral_id, at);
        """,
    ),
    (
        25,
        "the generation of the owner's files saved from the dashboard; edit previews kept a while",
        """
        -- One row: raised at each save from the dashboard, so every process sharing the store
        -- sees it runs older files and reloads them (daemon/store/generations.py).
        CREATE TABLE config_generation (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            generation  INTEGER NOT NULL,
            saved_at    INTEGER NOT NULL
        );
        -- An edit's preview HTML, for whichever web process its frame's request reaches;
        -- the session's that made it (a hash), deleted once expired (daemon/store/previews.py).
        CREATE TABLE edit_previews (
            token       TEXT PRIMARY KEY,
            holder      TEXT NOT NULL,
            html        TEXT NOT NULL,
            expires_at  INTEGER NOT NULL
        );
        CREATE INDEX edit_previews_expires ON edit_previews(expires_at);
        """,
    ),
    (
        26,
        "the referral funnel: the way each friend came; share links and offers shown, links opened",
        """
        -- The funnel's channel of a referral: ask (the ask email), thanks (the thank-you page's
        -- share links), qr (its QR code), offer (a purchase with the friend offer's code); NULL
        -- when it is not known (made by hand, through the API, or before this version).
        ALTER TABLE referrals ADD COLUMN via TEXT;
        -- shown: a promoter's thank-you page with its share links and QR (channels thanks and
        -- qr), a friend offer on the landing page (offer); opened: a referral link fetched with
        -- its channel (link: landing, introduce or learn), a person's or a mail scanner's, told
        -- apart when the report is made (daemon/engine/funnel.py).
        CREATE TABLE funnel_steps (
            id           INTEGER PRIMARY KEY,
            advocate_id  INTEGER NOT NULL REFERENCES advocates(id),
            channel      TEXT NOT NULL,
            step         TEXT NOT NULL,
            link         TEXT,
            at           INTEGER NOT NULL
        );
        CREATE INDEX funnel_steps_at ON funnel_steps(at);
        """,
    ),
    (
        27,
        "emails' bytes compressed with lz4 (PostgreSQL)",
        """
        -- PostgreSQL's alone (daemon/store/pg_schema.py): SQLite keeps an email's bytes as they
        -- are, as before.
        """,
    ),
]
