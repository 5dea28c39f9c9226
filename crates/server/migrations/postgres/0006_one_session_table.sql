-- PostgreSQL's dialect of migrations/sqlite/0006: one session table for every principal.

ALTER TABLE sessions ADD COLUMN principal TEXT NOT NULL DEFAULT 'person'
    CHECK (principal IN ('person', 'staff'));
ALTER TABLE sessions ALTER COLUMN principal DROP DEFAULT;
ALTER TABLE sessions ALTER COLUMN person_id DROP NOT NULL;
ALTER TABLE sessions ADD COLUMN staff_id BIGINT REFERENCES staff(id) ON DELETE CASCADE;
INSERT INTO sessions (token_hash, principal, staff_id, assurance, created_at, last_activity_at)
SELECT token_hash, 'staff', staff_id, assurance, created_at, last_activity_at FROM staff_sessions;
DROP TABLE staff_sessions;
ALTER TABLE sessions ADD CHECK ((principal = 'person') = (person_id IS NOT NULL AND staff_id IS NULL));
ALTER TABLE sessions ADD CHECK ((principal = 'staff') = (staff_id IS NOT NULL AND person_id IS NULL));
