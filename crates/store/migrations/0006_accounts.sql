-- Schema version 6: workspace accounts, their sessions and API tokens, per-user triage
-- marks, and review comments on bulletins.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    display_name  TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    tlp_ceiling   TEXT    NOT NULL,
    -- An argon2id PHC string; the password itself is never stored.
    password_hash TEXT    NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);

-- A login: the browser holds a random token; only its SHA-256 is stored, so a copy of the
-- database does not let anyone in.
CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Personal API tokens: shown once, stored hashed, revocable.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    token_hash   BLOB    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);

-- What each analyst has read or flagged in the inbox.
CREATE TABLE story_marks (
    user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    story_id  INTEGER NOT NULL REFERENCES stories(id) ON DELETE CASCADE,
    read      INTEGER NOT NULL DEFAULT 0,
    important INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, story_id)
) WITHOUT ROWID;

CREATE TABLE bulletin_comments (
    id          INTEGER PRIMARY KEY,
    bulletin_id INTEGER NOT NULL REFERENCES bulletins(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id),
    version     INTEGER NOT NULL,
    body        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX bulletin_comments_by_bulletin ON bulletin_comments (bulletin_id, id);
