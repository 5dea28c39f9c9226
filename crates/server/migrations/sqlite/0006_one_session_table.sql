-- One session table for every principal: a person (password, BankID) or a staff member
-- (SITHS). `staff_sessions` had the same columns and rules; its rows move here and it goes.
-- SQLite cannot add a CHECK or relax NOT NULL in place, so the table is rebuilt; live
-- sessions keep working.

CREATE TABLE sessions_new (
    -- SHA-256 of the bearer token; the token itself is never stored.
    token_hash       BLOB PRIMARY KEY,
    -- person | staff: who the session is for.
    principal        TEXT NOT NULL CHECK (principal IN ('person', 'staff')),
    -- The person whose cases the session shows (principal = person).
    person_id        INTEGER REFERENCES people(id) ON DELETE CASCADE,
    -- The account logged in to; NULL for a BankID session and for staff.
    account_id       INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    -- The staff member (principal = staff).
    staff_id         INTEGER REFERENCES staff(id) ON DELETE CASCADE,
    -- low | substantial | high
    assurance        TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    -- The trusted device a session was made with or made (`current` in the device list).
    device_id        TEXT REFERENCES trusted_devices(id) ON DELETE SET NULL,
    CHECK ((principal = 'person') = (person_id IS NOT NULL AND staff_id IS NULL)),
    CHECK ((principal = 'staff') = (staff_id IS NOT NULL AND person_id IS NULL))
);

INSERT INTO sessions_new (token_hash, principal, person_id, account_id, staff_id, assurance,
                          created_at, last_activity_at, device_id)
SELECT token_hash, 'person', person_id, account_id, NULL, assurance, created_at,
       last_activity_at, device_id
FROM sessions;

INSERT INTO sessions_new (token_hash, principal, person_id, account_id, staff_id, assurance,
                          created_at, last_activity_at, device_id)
SELECT token_hash, 'staff', NULL, NULL, staff_id, assurance, created_at, last_activity_at, NULL
FROM staff_sessions;

DROP TABLE sessions;
DROP TABLE staff_sessions;
ALTER TABLE sessions_new RENAME TO sessions;
CREATE INDEX sessions_by_created ON sessions(created_at);
CREATE INDEX sessions_by_account ON sessions(account_id);
