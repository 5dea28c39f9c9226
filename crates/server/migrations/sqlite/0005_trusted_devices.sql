-- Trusted devices ("trust this device for 30 days" on a personal computer): a device token
-- stands in for the SMS code of two-step verification. Only the token's SHA-256 is stored.
-- Times are Unix seconds from the server's clock.

CREATE TABLE trusted_devices (
    -- A random UUID: what the app shows and `DELETE /devices/{id}` names.
    id           TEXT PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- SHA-256 of the device token; the token itself is never stored.
    token_hash   BLOB NOT NULL UNIQUE,
    -- What the app called itself, cleaned (at most 64 characters, no control characters).
    label        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    -- created_at + 30 days: no renewal, the user trusts the device again after an SMS login.
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    -- Set by "remove" on Min sida, by "Glöm den här enheten", or by a phone change without a
    -- session; a revoked device is never trusted again.
    revoked_at   INTEGER
);
CREATE INDEX trusted_devices_by_account ON trusted_devices(account_id);
CREATE INDEX trusted_devices_by_expiry ON trusted_devices(expires_at);

-- The trusted device a session was made with or made (`current` in the device list).
ALTER TABLE sessions ADD COLUMN device_id TEXT REFERENCES trusted_devices(id) ON DELETE SET NULL;
