-- Schema version 1: sources, items, bulletins, and their full-text indexes.
-- Times are INTEGER milliseconds since the Unix epoch (UTC); lists are JSON arrays
-- unless something must be queried by element, which gets a link table.

CREATE TABLE sources (
    id                 INTEGER PRIMARY KEY,
    name               TEXT    NOT NULL UNIQUE,
    kind               TEXT    NOT NULL,
    location           TEXT    NOT NULL,
    poll_interval_secs INTEGER,
    default_tlp        TEXT    NOT NULL,
    tags               TEXT    NOT NULL DEFAULT '[]',
    reliability        TEXT    NOT NULL,
    enabled            INTEGER NOT NULL DEFAULT 1,
    created_at         INTEGER NOT NULL
);

CREATE TABLE items (
    id            INTEGER PRIMARY KEY,
    source_id     INTEGER NOT NULL REFERENCES sources(id),
    canonical_url TEXT    NOT NULL,
    original_url  TEXT,
    guid          TEXT,
    title         TEXT    NOT NULL,
    author        TEXT,
    published_at  INTEGER,
    fetched_at    INTEGER NOT NULL,
    language      TEXT,
    text          TEXT    NOT NULL,
    html          TEXT,
    content_hash  TEXT    NOT NULL,
    previous_hash TEXT,
    revision      INTEGER NOT NULL DEFAULT 1,
    tlp           TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (source_id, canonical_url)
);
CREATE INDEX items_by_guid ON items (source_id, guid) WHERE guid IS NOT NULL;
CREATE INDEX items_by_hash ON items (source_id, content_hash);
CREATE INDEX items_by_time ON items (coalesce(published_at, fetched_at));

-- External-content index: the text lives once, in `items`; triggers keep the index
-- in step inside the same transaction, so it can never drift from the table.
CREATE VIRTUAL TABLE items_fts USING fts5(
    title, text,
    content = 'items', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
-- Rank by BM25 with title matches weighing ten times body matches. Configured on the
-- table so that `ORDER BY rank` lets FTS5 sort internally and compute snippets only for
-- the rows a page actually returns.
INSERT INTO items_fts (items_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0)');
CREATE TRIGGER items_fts_insert AFTER INSERT ON items BEGIN
    INSERT INTO items_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;
CREATE TRIGGER items_fts_delete AFTER DELETE ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
END;
CREATE TRIGGER items_fts_update AFTER UPDATE OF title, text ON items BEGIN
    INSERT INTO items_fts (items_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text);
    INSERT INTO items_fts (rowid, title, text) VALUES (new.id, new.title, new.text);
END;

CREATE TABLE bulletins (
    id            INTEGER PRIMARY KEY,
    kind          TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    slug          TEXT    NOT NULL UNIQUE,
    summary       TEXT    NOT NULL,
    analyst_notes TEXT    NOT NULL,
    tlp           TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    authors       TEXT    NOT NULL DEFAULT '[]',
    status        TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    published_at  INTEGER
);
CREATE INDEX bulletins_by_time ON bulletins (coalesce(published_at, updated_at));

CREATE TABLE bulletin_tags (
    bulletin_id INTEGER NOT NULL REFERENCES bulletins(id) ON DELETE CASCADE,
    tag         TEXT    NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (bulletin_id, tag)
);
CREATE INDEX bulletin_tags_by_tag ON bulletin_tags (tag);

-- What a bulletin draws on: 'story', 'item' or 'entity' ids, in the order given.
CREATE TABLE bulletin_links (
    bulletin_id INTEGER NOT NULL REFERENCES bulletins(id) ON DELETE CASCADE,
    target_kind TEXT    NOT NULL,
    target_id   INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (bulletin_id, target_kind, target_id)
);
CREATE INDEX bulletin_links_by_target ON bulletin_links (target_kind, target_id);

-- Every saved version of a bulletin, as the JSON of the whole bulletin at that version.
CREATE TABLE bulletin_versions (
    bulletin_id INTEGER NOT NULL REFERENCES bulletins(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    snapshot    TEXT    NOT NULL,
    saved_at    INTEGER NOT NULL,
    PRIMARY KEY (bulletin_id, version)
);

CREATE VIRTUAL TABLE bulletins_fts USING fts5(
    title, summary, analyst_notes,
    content = 'bulletins', content_rowid = 'id',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
INSERT INTO bulletins_fts (bulletins_fts, rank) VALUES ('rank', 'bm25(10.0, 1.0, 1.0)');
CREATE TRIGGER bulletins_fts_insert AFTER INSERT ON bulletins BEGIN
    INSERT INTO bulletins_fts (rowid, title, summary, analyst_notes)
    VALUES (new.id, new.title, new.summary, new.analyst_notes);
END;
CREATE TRIGGER bulletins_fts_delete AFTER DELETE ON bulletins BEGIN
    INSERT INTO bulletins_fts (bulletins_fts, rowid, title, summary, analyst_notes)
    VALUES ('delete', old.id, old.title, old.summary, old.analyst_notes);
END;
CREATE TRIGGER bulletins_fts_update AFTER UPDATE OF title, summary, analyst_notes ON bulletins BEGIN
    INSERT INTO bulletins_fts (bulletins_fts, rowid, title, summary, analyst_notes)
    VALUES ('delete', old.id, old.title, old.summary, old.analyst_notes);
    INSERT INTO bulletins_fts (rowid, title, summary, analyst_notes)
    VALUES (new.id, new.title, new.summary, new.analyst_notes);
END;
