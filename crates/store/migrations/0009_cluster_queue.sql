-- Schema version 9: the clustering queue. Every inserted item is queued in the transaction
-- that stores it and leaves the queue in the transaction that places it in a story, so
-- finding the items still to cluster reads what is pending, never the whole corpus.

CREATE TABLE cluster_queue (
    item_id INTEGER PRIMARY KEY REFERENCES items(id) ON DELETE CASCADE
);
INSERT INTO cluster_queue (item_id)
SELECT id FROM items WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.item_id = items.id);

