-- Schema 12: each story's roll-up (items, sources, first and last date, strictest marking)
-- kept on the story itself, so that listing the newest or hottest stories reads as many
-- stories as it shows instead of aggregating every story's items at every call.
--
-- Triggers recompute a story's roll-up from its members whenever its membership changes
-- (placement, merge, move, split, removal of a source's items) or a member's date, source or
-- marking changes: in the same transaction, by the story's key, reading only its members.
ALTER TABLE stories ADD COLUMN item_count   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stories ADD COLUMN source_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stories ADD COLUMN first_seen   INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stories ADD COLUMN last_seen    INTEGER NOT NULL DEFAULT 0;
-- 0 CLEAR, 1 GREEN, 2 AMBER, 3 AMBER+STRICT, 4 RED: the strictest among the members.
ALTER TABLE stories ADD COLUMN tlp_rank     INTEGER NOT NULL DEFAULT 4;

-- What a roll-up reads of each member, in an index of its own: `tlp` comes after the text
-- and HTML in the item's row, and reading it there walks the row's overflow pages.
CREATE INDEX items_rollup_fields ON items (id, source_id, published_at, fetched_at, tlp);

-- The recomputation is written once: the triggers below name the story they touched by
-- inserting it here, and this table's own trigger recomputes it and clears the row.
CREATE TABLE story_rollup_requests (story_id INTEGER NOT NULL);
CREATE TRIGGER story_rollup_recompute AFTER INSERT ON story_rollup_requests BEGIN
    UPDATE stories SET (item_count, source_count, first_seen, last_seen, tlp_rank) =
        (SELECT count(*), count(DISTINCT i.source_id), coalesce(min(coalesce(i.published_at, i.fetched_at)), 0),
                coalesce(max(coalesce(i.published_at, i.fetched_at)), 0),
                coalesce(max(CASE i.tlp WHEN 'CLEAR' THEN 0 WHEN 'GREEN' THEN 1 WHEN 'AMBER' THEN 2
                                        WHEN 'AMBER+STRICT' THEN 3 ELSE 4 END), 4)
         FROM story_items si JOIN items i INDEXED BY items_rollup_fields ON i.id = si.item_id
         WHERE si.story_id = new.story_id)
    WHERE id = new.story_id;
    DELETE FROM story_rollup_requests WHERE rowid = new.rowid;
END;

CREATE TRIGGER story_items_rollup_insert AFTER INSERT ON story_items BEGIN
    INSERT INTO story_rollup_requests (story_id) VALUES (new.story_id);
END;
CREATE TRIGGER story_items_rollup_delete AFTER DELETE ON story_items BEGIN
    INSERT INTO story_rollup_requests (story_id) VALUES (old.story_id);
END;
CREATE TRIGGER story_items_rollup_move AFTER UPDATE OF story_id ON story_items
    WHEN old.story_id IS NOT new.story_id
BEGIN
    INSERT INTO story_rollup_requests (story_id) VALUES (old.story_id), (new.story_id);
END;
CREATE TRIGGER items_rollup_update AFTER UPDATE OF tlp, published_at, fetched_at, source_id ON items
    WHEN old.tlp IS NOT new.tlp OR old.published_at IS NOT new.published_at
      OR old.fetched_at IS NOT new.fetched_at OR old.source_id IS NOT new.source_id
BEGIN
    INSERT INTO story_rollup_requests (story_id)
        SELECT story_id FROM story_items WHERE item_id = new.id;
END;

-- The stories stored so far, each recomputed once.
INSERT INTO story_rollup_requests (story_id) SELECT id FROM stories;

CREATE INDEX stories_by_last_seen ON stories (last_seen DESC, id DESC) WHERE item_count > 0;
CREATE INDEX stories_by_hotness ON stories (hotness DESC, id DESC) WHERE item_count > 0;
