-- Schema version 2: findings (indicators and, later, entity mentions) extracted from items,
-- each with the evidence span in the item's text.

CREATE TABLE findings (
    id          INTEGER PRIMARY KEY,
    item_id     INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    text        TEXT    NOT NULL,
    span_start  INTEGER NOT NULL,
    span_end    INTEGER NOT NULL,
    confidence  REAL    NOT NULL,
    entity_ids  TEXT    NOT NULL DEFAULT '[]',
    flags       TEXT    NOT NULL DEFAULT '[]'
);
CREATE INDEX findings_by_item ON findings (item_id, span_start);
-- "Which items mention this indicator?"
CREATE INDEX findings_by_value ON findings (kind, value);
