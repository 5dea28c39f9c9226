-- PostgreSQL's dialect of migrations/sqlite/0005: trusted devices.

CREATE TABLE trusted_devices (
    id           TEXT PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash   BYTEA NOT NULL UNIQUE,
    label        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    -- SQLite's implicit insertion order, under the same name, so one query orders both
    -- (devices made in the same second list newest first).
    rowid        BIGINT GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX trusted_devices_by_account ON trusted_devices(account_id);
CREATE INDEX trusted_devices_by_expiry ON trusted_devices(expires_at);

ALTER TABLE sessions ADD COLUMN device_id TEXT REFERENCES trusted_devices(id) ON DELETE SET NULL;
