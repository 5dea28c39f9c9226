-- Accounts under abuse. `failed_logins`: wrong passwords since the last login that got through
-- (or the last password reset); at 100 a right password also needs a code by e-mail.
-- `failure_warned_at`: when the owner was last told of many wrong passwords (at most once a
-- day). `challenges.session_hash`: the session a phone change was started in (it ends with
-- that session); NULL for challenges started without one.
ALTER TABLE accounts ADD COLUMN failed_logins BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN failure_warned_at BIGINT;
ALTER TABLE challenges ADD COLUMN session_hash BLOB;
