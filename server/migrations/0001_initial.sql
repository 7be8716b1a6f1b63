-- The v1 schema: users, streams, chat, listings, orders.
CREATE TABLE IF NOT EXISTS users (
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS streams (
    id           TEXT PRIMARY KEY,
    title        TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
    status       TEXT NOT NULL CHECK (status IN ('scheduled', 'live', 'ended')),
    host         TEXT NOT NULL COLLATE NOCASE,
    cohost       TEXT COLLATE NOCASE,
    scheduled_at TEXT,
    started_at   TEXT,
    ended_at     TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS streams_by_host ON streams (host);
CREATE TABLE IF NOT EXISTS chat_messages (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    stream_id  TEXT NOT NULL,
    username   TEXT NOT NULL,
    text       TEXT NOT NULL,
    mentions   TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_by_stream ON chat_messages (stream_id, seq);
CREATE TABLE IF NOT EXISTS listings (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    stream_id        TEXT NOT NULL,
    title            TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
    currency         TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity >= 1),
    remaining        INTEGER NOT NULL CHECK (remaining BETWEEN 0 AND quantity),
    consignor        TEXT COLLATE NOCASE,
    status           TEXT NOT NULL CHECK (status IN ('active', 'sold_out', 'closed')),
    compare_at_cents INTEGER,
    created_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS listings_by_stream ON listings (stream_id, seq);
CREATE TABLE IF NOT EXISTS orders (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    stream_id        TEXT NOT NULL,
    listing_id       TEXT NOT NULL,
    buyer            TEXT NOT NULL COLLATE NOCASE,
    seller           TEXT NOT NULL COLLATE NOCASE,
    quantity         INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price_cents INTEGER NOT NULL,
    total_cents      INTEGER NOT NULL,
    currency         TEXT NOT NULL,
    consignor        TEXT COLLATE NOCASE,
    created_at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_stream ON orders (stream_id, seq);
