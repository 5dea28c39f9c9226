-- PostgreSQL's dialect of migrations/sqlite/0003: sessions belong to a person, through an
-- account or directly (BankID). PostgreSQL relaxes NOT NULL in place.

ALTER TABLE sessions ADD COLUMN person_id BIGINT REFERENCES people(id) ON DELETE CASCADE;
UPDATE sessions s SET person_id = a.person_id FROM accounts a WHERE a.id = s.account_id;
ALTER TABLE sessions ALTER COLUMN person_id SET NOT NULL;
ALTER TABLE sessions ALTER COLUMN account_id DROP NOT NULL;
CREATE INDEX sessions_by_account ON sessions(account_id);
