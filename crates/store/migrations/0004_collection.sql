-- Schema version 4: collecting from the web. Per-source collection state and health,
-- every problem met while collecting (never silent), and the feed entries already seen.

ALTER TABLE sources ADD COLUMN allow_private INTEGER NOT NULL DEFAULT 0;

CREATE TABLE source_state (
    source_id            INTEGER PRIMARY KEY REFERENCES sources(id) ON DELETE CASCADE,
    etag                 TEXT,
    last_modified        TEXT,
    last_attempt_at      INTEGER,
    last_success_at      INTEGER,
    last_http_status     INTEGER,
    last_error_kind      TEXT,
    last_error           TEXT,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_attempt_at      INTEGER,
    last_entries         INTEGER NOT NULL DEFAULT 0,
    last_problems        INTEGER NOT NULL DEFAULT 0
);

-- One row per entry skipped, page that fell back to the feed's text, or failed run.
CREATE TABLE collection_problems (
    id        INTEGER PRIMARY KEY,
    source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    at        INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    input     TEXT    NOT NULL,
    reason    TEXT    NOT NULL
);
CREATE INDEX collection_problems_by_source ON collection_problems (source_id, at);

-- Feed entries already handled, with a hash of what the feed said of them: an entry the
-- feed repeats unchanged is neither fetched nor stored again.
CREATE TABLE feed_entries (
    source_id  INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    identity   TEXT    NOT NULL,
    entry_hash TEXT    NOT NULL,
    seen_at    INTEGER NOT NULL,
    PRIMARY KEY (source_id, identity)
) WITHOUT ROWID;

CREATE INDEX items_by_source_created ON items (source_id, created_at);
