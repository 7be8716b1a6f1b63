-- After the sale: addresses and email, cohost history, shipments, labels, the ledger.

ALTER TABLE users ADD COLUMN email TEXT;

-- One postal address per account: the host's return address, a buyer's shipping address.
CREATE TABLE IF NOT EXISTS addresses (
    username    TEXT PRIMARY KEY COLLATE NOCASE,
    name        TEXT NOT NULL,
    line1       TEXT NOT NULL,
    line2       TEXT,
    city        TEXT NOT NULL,
    region      TEXT,
    postal_code TEXT NOT NULL,
    country     TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Everyone who ever sat in a stream's cohost seat (the only people a host may share with).
CREATE TABLE IF NOT EXISTS cohost_history (
    stream_id      TEXT NOT NULL,
    username       TEXT NOT NULL COLLATE NOCASE,
    first_seated_at TEXT NOT NULL,
    PRIMARY KEY (stream_id, username)
);

-- A bundle: one buyer's orders in one stream from one sender (host: consignor NULL).
CREATE TABLE IF NOT EXISTS shipments (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    stream_id  TEXT NOT NULL,
    buyer      TEXT NOT NULL COLLATE NOCASE,
    consignor  TEXT COLLATE NOCASE,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shipments_by_stream ON shipments (stream_id, seq);
-- Each order ships in exactly one shipment.
CREATE TABLE IF NOT EXISTS shipment_orders (
    order_id    TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS shipment_orders_by_shipment ON shipment_orders (shipment_id);

-- At most one label per shipment; the addresses are copied as they were when it was made.
CREATE TABLE IF NOT EXISTS labels (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    shipment_id  TEXT NOT NULL UNIQUE,
    stream_id    TEXT NOT NULL,
    tracking     TEXT NOT NULL UNIQUE,
    from_address TEXT NOT NULL,
    to_address   TEXT NOT NULL,
    consignor    TEXT COLLATE NOCASE,
    created_at   TEXT NOT NULL,
    sent_at      TEXT
);
CREATE INDEX IF NOT EXISTS labels_by_stream ON labels (stream_id, seq);

-- The ledger: append-only; balances are sums of entries.
CREATE TABLE IF NOT EXISTS ledger_entries (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    username     TEXT NOT NULL COLLATE NOCASE,
    kind         TEXT NOT NULL,
    bucket       TEXT NOT NULL CHECK (bucket IN ('pending', 'available')),
    amount_cents INTEGER NOT NULL,
    stream_id    TEXT NOT NULL,
    order_id     TEXT,
    transfer_id  TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_by_user ON ledger_entries (username, seq);
CREATE INDEX IF NOT EXISTS ledger_by_stream ON ledger_entries (stream_id, kind);
CREATE TRIGGER IF NOT EXISTS ledger_entries_never_edited BEFORE UPDATE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;
CREATE TRIGGER IF NOT EXISTS ledger_entries_never_deleted BEFORE DELETE ON ledger_entries
BEGIN
    SELECT RAISE(ABORT, 'ledger entries are append-only');
END;

-- One payout per stream (the primary key is the guard against paying twice).
CREATE TABLE IF NOT EXISTS payouts (
    stream_id     TEXT PRIMARY KEY,
    host          TEXT NOT NULL COLLATE NOCASE,
    revenue_cents INTEGER NOT NULL,
    created_at    TEXT NOT NULL
);

-- The host passing part of a stream's revenue to someone who was its cohost.
CREATE TABLE IF NOT EXISTS transfers (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    stream_id    TEXT NOT NULL,
    from_user    TEXT NOT NULL COLLATE NOCASE,
    to_user      TEXT NOT NULL COLLATE NOCASE,
    amount_cents INTEGER NOT NULL CHECK (amount_cents > 0),
    created_at   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS transfers_by_stream ON transfers (stream_id);
