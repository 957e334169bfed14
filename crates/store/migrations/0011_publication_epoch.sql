-- Schema 11: a counter of changes to what the public site shows.
--
-- The server keeps rendered public pages, feeds and exports in memory and serves them while
-- this counter stays where it was when they were rendered. Triggers move it in the very
-- transaction that changes a bulletin, its tags or links, or the marking, title or address
-- of an item, so once such a change commits no request sees a page rendered before it, in
-- whichever process the change was made.
CREATE TABLE publication_epoch (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    value      INTEGER NOT NULL,
    -- When it last moved (Unix seconds): the public responses' Last-Modified.
    changed_at INTEGER NOT NULL
);
INSERT INTO publication_epoch (id, value, changed_at) VALUES (1, 0, unixepoch());

CREATE TRIGGER bulletins_epoch_insert AFTER INSERT ON bulletins BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER bulletins_epoch_update AFTER UPDATE ON bulletins BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER bulletins_epoch_delete AFTER DELETE ON bulletins BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER bulletin_tags_epoch_insert AFTER INSERT ON bulletin_tags BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER bulletin_tags_epoch_delete AFTER DELETE ON bulletin_tags BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER bulletin_links_epoch_insert AFTER INSERT ON bulletin_links BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER bulletin_links_epoch_delete AFTER DELETE ON bulletin_links BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
-- Public bulletin pages cite their items by title and address, and only CLEAR ones.
CREATE TRIGGER items_epoch_update AFTER UPDATE OF tlp, title, canonical_url ON items
    WHEN old.tlp IS NOT new.tlp OR old.title IS NOT new.title OR old.canonical_url IS NOT new.canonical_url
BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
CREATE TRIGGER items_epoch_delete AFTER DELETE ON items
    WHEN EXISTS (SELECT 1 FROM bulletin_links WHERE target_kind = 'item' AND target_id = old.id)
BEGIN
    UPDATE publication_epoch SET value = value + 1, changed_at = unixepoch();
END;
