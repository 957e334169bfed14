-- Schema 13: the names each story mentions (threat actors, malware, tools, campaigns, CVEs
-- and other entity mentions), with how many times its members mention each, so that the
-- inbox shows a story's entity chips and facets by reading the story's names instead of
-- every finding of every member.
--
-- Triggers keep it in the same transaction as a member joining, leaving or moving
-- (placement, merge, move, split). Each touches one story's rows by key. Where an item's
-- findings change or go while it stays in its story (re-extraction, an update, removal of
-- its source), the store takes its names out before and puts them back after, with the same
-- requests: triggers on `findings` would run for every finding an ingest writes (measured:
-- 18 % of an ingest's time at 90k items), where the store knows that a new item is in no
-- story yet.
CREATE TABLE story_entities (
    story_id INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    mentions INTEGER NOT NULL,
    PRIMARY KEY (story_id, name)
) WITHOUT ROWID;

-- A member's names are added or taken away once, here: the triggers below name the story,
-- the item and the sign (+1 joining, -1 leaving) by inserting a row, and this table's own
-- trigger applies it and clears the row.
CREATE TABLE story_entity_requests (
    story_id INTEGER NOT NULL,
    item_id  INTEGER NOT NULL,
    sign     INTEGER NOT NULL
);
CREATE TRIGGER story_entity_requests_apply AFTER INSERT ON story_entity_requests BEGIN
    INSERT INTO story_entities (story_id, name, mentions)
        SELECT new.story_id, f.value, new.sign * count(*) FROM findings f
        WHERE f.item_id = new.item_id
          AND f.kind IN ('entity_mention', 'attack_group', 'attack_software', 'attack_campaign', 'cve')
        GROUP BY f.value
    ON CONFLICT (story_id, name) DO UPDATE SET mentions = mentions + excluded.mentions;
    DELETE FROM story_entities WHERE story_id = new.story_id AND mentions <= 0;
    DELETE FROM story_entity_requests WHERE rowid = new.rowid;
END;

CREATE TRIGGER story_entities_member_insert AFTER INSERT ON story_items BEGIN
    INSERT INTO story_entity_requests (story_id, item_id, sign) VALUES (new.story_id, new.item_id, 1);
END;
CREATE TRIGGER story_entities_member_delete AFTER DELETE ON story_items BEGIN
    INSERT INTO story_entity_requests (story_id, item_id, sign) VALUES (old.story_id, old.item_id, -1);
END;
CREATE TRIGGER story_entities_member_move AFTER UPDATE OF story_id ON story_items
    WHEN old.story_id IS NOT new.story_id
BEGIN
    INSERT INTO story_entity_requests (story_id, item_id, sign)
        VALUES (old.story_id, old.item_id, -1), (new.story_id, new.item_id, 1);
END;

-- The stories stored so far.
INSERT INTO story_entities (story_id, name, mentions)
    SELECT si.story_id, f.value, count(*) FROM story_items si JOIN findings f ON f.item_id = si.item_id
    WHERE f.kind IN ('entity_mention', 'attack_group', 'attack_software', 'attack_campaign', 'cve')
    GROUP BY si.story_id, f.value;
