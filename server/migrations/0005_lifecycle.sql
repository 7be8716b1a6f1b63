-- Show lifecycle (PROTOCOL v2): rehearsal status, cover, pin, restart, chat settings,
-- reminders, moderators and analytics recorded as the show runs.
--
-- The status CHECK gains 'rehearsal': SQLite cannot alter a CHECK, so the streams
-- table is rebuilt with every existing column, the new ones, and its index.
-- `record`, `sharer_commission_percent` and `layout` are for the outputs and
-- sharers work, added here so that only this migration rebuilds the table.
CREATE TABLE streams_new (
    id                        TEXT PRIMARY KEY,
    title                     TEXT NOT NULL,
    description               TEXT NOT NULL DEFAULT '',
    kind                      TEXT NOT NULL CHECK (kind IN ('video', 'audio')),
    status                    TEXT NOT NULL
                              CHECK (status IN ('scheduled', 'rehearsal', 'live', 'ended')),
    host                      TEXT NOT NULL COLLATE NOCASE,
    cohost                    TEXT COLLATE NOCASE,
    scheduled_at              TEXT,
    started_at                TEXT,
    ended_at                  TEXT,
    created_at                TEXT NOT NULL,
    cover                     TEXT,
    pinned                    TEXT,
    restarted_at              TEXT,
    -- Seconds live over every finished stretch (a restart adds a stretch).
    live_ms                   INTEGER NOT NULL DEFAULT 0,
    slow_mode_seconds         INTEGER NOT NULL DEFAULT 0,
    blocked_words             TEXT NOT NULL DEFAULT '[]',
    raided_to                 TEXT,
    reminders_sent_at         TEXT,
    record                    INTEGER NOT NULL DEFAULT 0,
    sharer_commission_percent INTEGER NOT NULL DEFAULT 0,
    layout                    TEXT
);
INSERT INTO streams_new (
    id, title, description, kind, status, host, cohost,
    scheduled_at, started_at, ended_at, created_at
)
SELECT id, title, description, kind, status, host, cohost,
       scheduled_at, started_at, ended_at, created_at
FROM streams;
DROP TABLE streams;
ALTER TABLE streams_new RENAME TO streams;
CREATE INDEX IF NOT EXISTS streams_by_host ON streams (host);
CREATE INDEX IF NOT EXISTS streams_by_status ON streams (status, scheduled_at);

CREATE TABLE IF NOT EXISTS reminders (
    stream_id  TEXT NOT NULL,
    username   TEXT NOT NULL COLLATE NOCASE,
    email      TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (stream_id, username)
);

CREATE TABLE IF NOT EXISTS stream_moderators (
    stream_id TEXT NOT NULL,
    username  TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (stream_id, username)
);

-- One row per connection joined to a live stream: joined/left in epoch ms.
CREATE TABLE IF NOT EXISTS viewer_sessions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id  TEXT NOT NULL,
    conn_id    TEXT NOT NULL,
    username   TEXT COLLATE NOCASE,
    role       TEXT NOT NULL,
    joined_ms  INTEGER NOT NULL,
    left_ms    INTEGER
);
CREATE INDEX IF NOT EXISTS viewer_sessions_by_stream ON viewer_sessions (stream_id, conn_id);

-- The viewer count every time it changed while live.
CREATE TABLE IF NOT EXISTS viewer_samples (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    ts_ms     INTEGER NOT NULL,
    count     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS viewer_samples_by_stream ON viewer_samples (stream_id, seq);

-- Every accepted chat message (the chat history itself is pruned and hideable).
CREATE TABLE IF NOT EXISTS chat_counts (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    stream_id TEXT NOT NULL,
    username  TEXT NOT NULL COLLATE NOCASE,
    ts_ms     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chat_counts_by_stream ON chat_counts (stream_id, seq);
