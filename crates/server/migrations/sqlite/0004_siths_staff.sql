-- SITHS card login: staff members (identified by HSA-id, not personnummer), their sessions,
-- and the challenges in flight. Purely additive: `sessions` belongs to people and accounts
-- (its account_id is NOT NULL), so staff sessions get a table of their own with the same
-- columns and rules instead of a rebuild of `sessions`. Numbered 0004 because 0003 is taken
-- on the BankID branch. Times are Unix seconds from the server's clock.

CREATE TABLE staff (
    id           INTEGER PRIMARY KEY,
    -- The subject serialNumber of the authentication certificate, e.g. SE2321000016-abc1.
    hsa_id       TEXT NOT NULL UNIQUE,
    -- As the latest login's certificate says (a renewed card may change them).
    name         TEXT NOT NULL,
    organisation TEXT,
    created_at   INTEGER NOT NULL
);

CREATE TABLE staff_sessions (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash       BLOB PRIMARY KEY,
    staff_id         INTEGER NOT NULL REFERENCES staff(id) ON DELETE CASCADE,
    -- Always high (a SITHS card), kept like sessions.assurance.
    assurance        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);
CREATE INDEX staff_sessions_by_created ON staff_sessions(created_at);

-- A challenge is used once: a login attempt deletes it, whatever the outcome.
CREATE TABLE siths_challenges (
    id         TEXT PRIMARY KEY,
    -- The 32 random bytes the card signs.
    challenge  BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX siths_challenges_by_expiry ON siths_challenges(expires_at);
