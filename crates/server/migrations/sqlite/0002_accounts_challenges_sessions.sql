-- Accounts (e-mail + password, optional two-step phone), the codes in flight, and sessions.
-- Times are Unix seconds from the server's clock. Secrets are stored only hashed.

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER NOT NULL UNIQUE REFERENCES people(id) ON DELETE CASCADE,
    -- Normalized (trimmed, lowercase): the username.
    email         TEXT NOT NULL UNIQUE,
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- Verified E.164 number for two-step verification; NULL without it.
    phone         TEXT,
    created_at    INTEGER NOT NULL
);

-- A registration, a login waiting for its SMS code, or a phone change: whichever code it waits
-- for, how many wrong tries that step has had, and when a new code may be sent.
CREATE TABLE challenges (
    id              TEXT PRIMARY KEY,
    -- registration | login | phone_change
    purpose         TEXT NOT NULL,
    -- email_code | sms_code | done
    step            TEXT NOT NULL,
    account_id      INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    -- Where the e-mail code goes (registration, phone change without a session).
    email           TEXT,
    -- Where the SMS code goes: the new number (registration, phone change) or the account's.
    phone           TEXT,
    -- Registration only: the account to create.
    password_hash   TEXT,
    -- Registration of an address that already has an account: answered like any other, but
    -- the address got "you already have an account" and no code can match.
    decoy           INTEGER NOT NULL DEFAULT 0,
    code_salt       BLOB,
    code_hash       BLOB,
    code_expires_at INTEGER,
    -- The last time a code was delivered (the resend cooldown counts from it).
    code_sent_at    INTEGER,
    -- Codes delivered for the current step, and wrong tries at it (a resend keeps both).
    sends           INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX challenges_by_expiry ON challenges(expires_at);

CREATE TABLE sessions (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash       BLOB PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- low | substantial | high
    assurance        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_created ON sessions(created_at);
