-- Outputs beyond WebRTC (issue 12): per-stream output settings, simulcast
-- destinations and on-screen QR code incidents.
CREATE TABLE IF NOT EXISTS stream_outputs (
    stream_id TEXT PRIMARY KEY,
    record    INTEGER,          -- NULL: follow the server's `record` setting
    layout    TEXT
);
CREATE TABLE IF NOT EXISTS stream_destinations (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    stream_id  TEXT NOT NULL,
    url        TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS destinations_by_stream ON stream_destinations (stream_id, seq);
CREATE TABLE IF NOT EXISTS qr_incidents (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id  TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS qr_incidents_by_stream ON qr_incidents (stream_id, seq);
