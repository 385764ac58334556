-- Helpline's first schema. Times are RFC 3339 text in UTC with microseconds ("2026-11-23T14:05:00.000000Z"),
-- so they read well in the sqlite3 shell and sort correctly as text; dates are "YYYY-MM-DD".

-- "HPLN": marks the file as Helpline's, so another application's database is refused, not migrated.
PRAGMA application_id = 1213221966;

CREATE TABLE customers (
    id                 TEXT PRIMARY KEY,
    name               TEXT NOT NULL,
    preferred_language TEXT NOT NULL,
    preferred_channel  TEXT NOT NULL,
    address            TEXT,
    consent_recording  INTEGER NOT NULL DEFAULT 0,
    consent_marketing  INTEGER NOT NULL DEFAULT 0
);

-- One row per number; `digits` is the number with everything but digits removed, which is what a
-- caller id is matched on. The primary key keeps a number from belonging to two customers.
CREATE TABLE phone_numbers (
    digits      TEXT PRIMARY KEY,
    number      TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL
);
CREATE INDEX phone_numbers_by_customer ON phone_numbers(customer_id);

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    position          INTEGER NOT NULL,
    kind              TEXT NOT NULL,
    last_four         TEXT NOT NULL,
    balance_cents     INTEGER NOT NULL,
    currency          TEXT NOT NULL,
    payment_due       TEXT,
    minimum_due_cents INTEGER
);
CREATE INDEX accounts_by_customer ON accounts(customer_id);

CREATE TABLE cards (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    brand       TEXT,
    last_four   TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('active', 'blocked', 'inactive')),
    account_id  TEXT REFERENCES accounts(id) ON DELETE SET NULL
);
CREATE INDEX cards_by_customer ON cards(customer_id);

CREATE TABLE transactions (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    posted       TEXT NOT NULL,
    description  TEXT NOT NULL,
    amount_cents INTEGER NOT NULL
);
CREATE INDEX transactions_by_account ON transactions(account_id, posted);

CREATE TABLE tickets (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    summary     TEXT NOT NULL,
    status      TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX tickets_by_customer ON tickets(customer_id, status);

-- A contact outlives its session (retention deletes transcripts, not the fact that someone called
-- about a dispute), so session_id is not a foreign key. One contact per session.
CREATE TABLE contacts (
    customer_id TEXT NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    at          TEXT NOT NULL,
    channel     TEXT NOT NULL,
    topic       TEXT,
    outcome     TEXT NOT NULL,
    summary     TEXT NOT NULL,
    PRIMARY KEY (customer_id, session_id)
);
CREATE INDEX contacts_by_time ON contacts(customer_id, at);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    line        TEXT NOT NULL,
    channel     TEXT NOT NULL,
    caller      TEXT,
    customer_id TEXT REFERENCES customers(id) ON DELETE SET NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    outcome     TEXT,
    state       TEXT,
    version     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_end ON sessions(ended_at);

CREATE TABLE turns (
    session_id        TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq               INTEGER NOT NULL,
    at                TEXT NOT NULL,
    speaker           TEXT NOT NULL CHECK (speaker IN ('caller', 'assistant', 'system')),
    text              TEXT NOT NULL,
    asr_confidence    REAL,
    intent            TEXT,
    intent_confidence REAL,
    sentiment         REAL,
    meta              TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);

CREATE TABLE calls (
    call_id     TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    caller      TEXT,
    called      TEXT,
    encoding    TEXT NOT NULL,
    sample_rate INTEGER NOT NULL,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    end_reason  TEXT,
    timings     TEXT NOT NULL
);
CREATE INDEX calls_by_session ON calls(session_id);

-- Not tied to sessions by a foreign key: a waiting or claimed hand-off must survive the purge of its
-- session's transcript (the agent still has the packet), and only completed entries are purged.
CREATE TABLE queue (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL,
    queue        TEXT NOT NULL,
    skill        TEXT,
    priority     INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('waiting', 'claimed', 'completed')),
    enqueued_at  TEXT NOT NULL,
    claimed_by   TEXT,
    claimed_at   TEXT,
    completed_at TEXT,
    outcome      TEXT,
    notes        TEXT,
    packet       TEXT NOT NULL
);
CREATE INDEX queue_by_turn ON queue(status, queue, priority DESC, enqueued_at, id);
CREATE INDEX queue_by_session ON queue(session_id);
