-- Demo mode's outbox (what would have been e-mailed or texted), in the database so every
-- instance's GET /demo/outbox shows every instance's messages. Only demo mode writes here.

CREATE TABLE demo_outbox (
    id      INTEGER PRIMARY KEY,
    -- email | sms
    channel TEXT NOT NULL,
    -- An e-mail address or an E.164 number.
    to_addr TEXT NOT NULL,
    subject TEXT,
    body    TEXT NOT NULL,
    -- RFC 3339, on the server's clock.
    sent_at TEXT NOT NULL
);
