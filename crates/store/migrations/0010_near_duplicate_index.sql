-- Schema 10: an index on the item a story member is a near-duplicate of.
--
-- `story_items.near_duplicate_of` references `items`, so deleting an item (or an upsert
-- that may replace one) has SQLite look for members pointing at it: without an index that
-- walked every member of every story, once per deleted item.
CREATE INDEX story_items_by_near_duplicate ON story_items(near_duplicate_of)
    WHERE near_duplicate_of IS NOT NULL;
