-- Sessions belong to a person: through an account (password logins) or directly (BankID,
-- identified by personnummer, with no account needed). SQLite cannot relax NOT NULL in place,
-- so the table is rebuilt; live sessions keep working.

CREATE TABLE sessions_new (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash       BLOB PRIMARY KEY,
    -- The person whose cases the session shows.
    person_id        INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    -- The account logged in to; NULL for a BankID session.
    account_id       INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    -- low | substantial | high
    assurance        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);

INSERT INTO sessions_new (token_hash, person_id, account_id, assurance, created_at, last_activity_at)
SELECT s.token_hash, a.person_id, s.account_id, s.assurance, s.created_at, s.last_activity_at
FROM sessions s JOIN accounts a ON a.id = s.account_id;

DROP TABLE sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_by_created ON sessions(created_at);
CREATE INDEX sessions_by_account ON sessions(account_id);
