-- BankID orders as rows, so any instance can answer the app about any order, and so an order
-- outlives the instance that started it. Exactly one instance collects a pending order at a
-- time: the one holding its lease (lease_owner until lease_until_ms, wall-clock milliseconds),
-- renewed before every collect; another instance takes over an order whose lease ran out.
-- The session is made when the app is first given the order's outcome (token_handed_out),
-- so no bearer token is ever stored. Ended orders are kept 3 minutes, then swept.

CREATE TABLE bankid_orders (
    -- What the app holds: 32 random bytes, base64url; it entitles its holder to the session.
    id                   TEXT PRIMARY KEY,
    -- this_device | other_device
    mode                 TEXT NOT NULL,
    order_ref            TEXT NOT NULL,
    auto_start_token     TEXT NOT NULL,
    qr_start_token       TEXT NOT NULL,
    -- Server-side only: the animated QR code's key. Never in an answer or a log.
    qr_start_secret      TEXT NOT NULL,
    -- When /auth answered, on the server's clock, in milliseconds: second 0 of the QR code.
    answered_at_ms       BIGINT NOT NULL,
    -- pending | complete | failed
    status               TEXT NOT NULL,
    -- Moves when the app would see a difference (long-polls wait for it).
    version              BIGINT NOT NULL,
    hint                 TEXT,
    message              TEXT,
    -- Complete: the person BankID identified, and what the app shows of them.
    person_id            BIGINT REFERENCES people(id) ON DELETE CASCADE,
    user_name            TEXT,
    user_personal_number TEXT,
    -- 1 once the app has been given the session token (exactly once).
    token_handed_out     BIGINT NOT NULL DEFAULT 0,
    ended_at_ms          BIGINT,
    -- 1 when the app cancelled: the collecting instance cancels at BankID.
    cancel_requested     BIGINT NOT NULL DEFAULT 0,
    lease_owner          TEXT,
    lease_until_ms       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX bankid_orders_by_lease ON bankid_orders(status, lease_until_ms);
CREATE INDEX bankid_orders_by_end ON bankid_orders(ended_at_ms);
