-- Schema 14: a new item's full-text entry is written by the store's own statement, in the
-- transaction that inserts the item, instead of by a trigger on `items`. A statement that
-- fires a trigger runs inside a statement savepoint, and FTS5 writes its pending terms out
-- at every savepoint: with the trigger, each item's terms became a segment of their own and
-- were merged again and again. Now the terms of a batch are written out together.
-- Updates and deletions keep their triggers (rare, and never to be missed).
DROP TRIGGER items_fts_insert;
