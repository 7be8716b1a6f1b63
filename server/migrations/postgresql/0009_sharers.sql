-- Sharers: the show's commission percent, who referred whom, joins per link, and the
-- referrer (with the percent in force) stamped on each order.

-- The host's sharer commission for a show (no row: 0 %).
CREATE TABLE IF NOT EXISTS stream_sharing (
    stream_id  TEXT PRIMARY KEY,
    percent    BIGINT NOT NULL CHECK (percent BETWEEN 0 AND 50),
    updated_at TEXT NOT NULL
);

-- The last valid link a signed-in viewer joined a stream with (last link wins).
CREATE TABLE IF NOT EXISTS referrals (
    stream_id  TEXT NOT NULL,
    viewer     CITEXT NOT NULL,
    sharer     CITEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (stream_id, viewer)
);

-- Every join that carried a sharer's link, counted per stream and sharer.
CREATE TABLE IF NOT EXISTS referral_joins (
    stream_id TEXT NOT NULL,
    sharer    CITEXT NOT NULL,
    joins     BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (stream_id, sharer)
);
CREATE INDEX IF NOT EXISTS referral_joins_by_sharer ON referral_joins (sharer);

-- Set inside the transaction that records the order; later percent changes never alter it.
ALTER TABLE orders ADD COLUMN referrer CITEXT;
ALTER TABLE orders ADD COLUMN commission_percent BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS orders_by_referrer ON orders (referrer, stream_id);

-- A commission is entered once per order and account, whatever retries happen.
CREATE UNIQUE INDEX IF NOT EXISTS ledger_commission_once
    ON ledger_entries (order_id, username) WHERE kind = 'commission';
