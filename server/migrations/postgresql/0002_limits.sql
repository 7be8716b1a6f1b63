-- Limits and revocation: a per-user token generation (a password change bumps it and
-- every older token dies) and revoked token ids (logout), kept until they expire.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS revoked_tokens (
    id         TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS revoked_tokens_by_expiry ON revoked_tokens (expires_at);
