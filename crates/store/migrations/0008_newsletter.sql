-- Schema version 8: the newsletter. Subscriptions with double opt-in, the outgoing mail
-- queue (which is also the send log) and which bulletin went to which address, so that no
-- bulletin reaches an address twice whatever the timing of publication and planning.
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE COLLATE NOCASE,
    topics TEXT NOT NULL,
    cadence TEXT NOT NULL,
    tlp_ceiling TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    confirmed_at INTEGER,
    unsubscribed_at INTEGER,
    -- Bulletins published from here on are sent: the confirmation, or an operator's latest
    -- change (so that a new clearance or topic does not mail the whole archive at once).
    starts_at INTEGER,
    last_digest_at INTEGER
);

CREATE TABLE mail_queue (
    id INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id),
    kind TEXT NOT NULL CHECK (kind IN ('confirm', 'bulletin', 'digest')),
    bulletin_ids TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claimed_until INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX mail_queue_due ON mail_queue (status, next_attempt_at);

CREATE TABLE newsletter_sent (
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id),
    bulletin_id INTEGER NOT NULL REFERENCES bulletins(id),
    mail_id INTEGER NOT NULL REFERENCES mail_queue(id),
    PRIMARY KEY (subscription_id, bulletin_id)
);

CREATE TABLE secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
