-- Schema version 5: stories. Every clustered item belongs to exactly one story; why it
-- joined is kept, and analysts' changes are recorded and pinned so that automatic
-- assignment never undoes them.

-- AUTOINCREMENT: a story id is never reused, so links and the audit trail stay true
-- after stories are merged away.
CREATE TABLE stories (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    title      TEXT    NOT NULL,
    summary    TEXT    NOT NULL DEFAULT '',
    hotness    REAL    NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE story_items (
    item_id           INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    story_id          INTEGER NOT NULL REFERENCES stories(id),
    joined_at         INTEGER NOT NULL,
    score             REAL    NOT NULL,
    -- JSON array of {kind, value, detail}: the signals behind the decision.
    reasons           TEXT    NOT NULL DEFAULT '[]',
    near_duplicate_of INTEGER REFERENCES items(id) ON DELETE SET NULL,
    -- Set by an analyst's move, merge or split: automatic assignment leaves it alone.
    pinned            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX story_items_by_story ON story_items (story_id);

-- What clustering keeps of each item (an opaque, versioned encoding owned by the caller),
-- so the in-memory index can be rebuilt without re-reading texts.
CREATE TABLE item_sketches (
    item_id  INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE,
    features BLOB    NOT NULL
);

CREATE TABLE story_audit (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    story_id INTEGER,
    detail   TEXT    NOT NULL
);
CREATE INDEX story_audit_by_story ON story_audit (story_id, at);
