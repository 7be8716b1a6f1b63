-- Selling formats (PROTOCOL v2): listing fields, flash sales, auctions, live-only
-- codes, giveaways, and what stays on stage. Per-stream state lives in these tables,
-- never in `streams`.
ALTER TABLE listings ADD COLUMN format TEXT NOT NULL DEFAULT 'buy_now';
ALTER TABLE listings ADD COLUMN sku TEXT;
ALTER TABLE listings ADD COLUMN per_buyer_limit INTEGER;
ALTER TABLE listings ADD COLUMN daily_cap INTEGER;
ALTER TABLE listings ADD COLUMN increment_cents INTEGER NOT NULL DEFAULT 100;
ALTER TABLE listings ADD COLUMN auction_seconds INTEGER NOT NULL DEFAULT 30;
ALTER TABLE listings ADD COLUMN sudden_death INTEGER NOT NULL DEFAULT 0;
ALTER TABLE listings ADD COLUMN flash_price_cents INTEGER;
ALTER TABLE listings ADD COLUMN flash_ends_at_ms INTEGER;
CREATE INDEX IF NOT EXISTS listings_by_sku ON listings (sku);
CREATE INDEX IF NOT EXISTS listings_flash_ends ON listings (flash_ends_at_ms)
    WHERE flash_ends_at_ms IS NOT NULL;

ALTER TABLE orders ADD COLUMN discount_code TEXT;
ALTER TABLE orders ADD COLUMN discount_cents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN giveaway_id TEXT;
CREATE INDEX IF NOT EXISTS orders_by_listing ON orders (listing_id, buyer);

-- The listing on stage in each stream and since when (present_too_soon).
CREATE TABLE IF NOT EXISTS stages (
    stream_id        TEXT PRIMARY KEY,
    listing_id       TEXT NOT NULL,
    presented_at_ms  INTEGER NOT NULL
);

-- One row per auction run of a listing (an unsold listing may run again).
CREATE TABLE IF NOT EXISTS auctions (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    listing_id      TEXT NOT NULL,
    stream_id       TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('running', 'sold', 'unsold')),
    start_cents     INTEGER NOT NULL,
    increment_cents INTEGER NOT NULL,
    high_bid_cents  INTEGER,
    high_bidder     TEXT COLLATE NOCASE,
    high_max_cents  INTEGER,
    ends_at_ms      INTEGER NOT NULL,
    sudden_death    INTEGER NOT NULL,
    bid_count       INTEGER NOT NULL DEFAULT 0,
    order_id        TEXT,
    started_at_ms   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS auctions_by_listing ON auctions (listing_id, seq);
-- At most one running auction per stream, whatever the concurrency.
CREATE UNIQUE INDEX IF NOT EXISTS auctions_one_running ON auctions (stream_id)
    WHERE status = 'running';

-- Every accepted bid, in the order the judge took them (audit trail).
CREATE TABLE IF NOT EXISTS bids (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    auction_seq  INTEGER NOT NULL,
    bidder       TEXT NOT NULL COLLATE NOCASE,
    amount_cents INTEGER NOT NULL,
    max_cents    INTEGER NOT NULL,
    at_ms        INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS discount_codes (
    stream_id        TEXT NOT NULL,
    code             TEXT NOT NULL,
    percent_off      INTEGER,
    amount_off_cents INTEGER,
    max_uses         INTEGER NOT NULL,
    per_buyer        INTEGER NOT NULL,
    listing_ids      TEXT,
    uses             INTEGER NOT NULL DEFAULT 0 CHECK (uses <= max_uses),
    created_at       TEXT NOT NULL,
    PRIMARY KEY (stream_id, code)
);

CREATE TABLE IF NOT EXISTS giveaways (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    stream_id   TEXT NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('open', 'drawn')),
    ends_at_ms  INTEGER NOT NULL,
    eligibility TEXT NOT NULL CHECK (eligibility IN ('everyone', 'buyers')),
    seed        TEXT NOT NULL,
    commitment  TEXT NOT NULL,
    winner      TEXT,
    order_id    TEXT,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS giveaways_one_open ON giveaways (stream_id)
    WHERE status = 'open';
CREATE TABLE IF NOT EXISTS giveaway_entrants (
    giveaway_id TEXT NOT NULL,
    username    TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (giveaway_id, username)
);
