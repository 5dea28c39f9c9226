-- Rate limits, kept in the database so every instance counts the same attempts: one row per
-- limited thing (scope: which limit; key: whose attempts, an address or an account's hashed
-- e-mail), counting attempts in a window that starts at the first attempt. An attempt is
-- reserved by one atomic upsert before the work it guards, so parallel requests cannot
-- overshoot. Rows whose window has ended are swept.

CREATE TABLE rate_limits (
    scope          TEXT NOT NULL,
    key            TEXT NOT NULL,
    -- Unix seconds: when the window, and so the count, ends.
    window_ends_at BIGINT NOT NULL,
    hits           BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX rate_limits_by_end ON rate_limits(window_ends_at);
