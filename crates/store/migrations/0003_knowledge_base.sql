-- Schema version 3: the knowledge base. Empty until the first `threatdesk kb import`; the
-- program then uses the stored entities (the built-in default merged with every import)
-- instead of its built-in copy. Ids are kept across imports, so findings and bulletins can
-- refer to them; an entity an import joins into another loses its id (`threatdesk
-- reextract` refreshes findings). Rows keep the order sources gave them (rowid).

CREATE TABLE kb_entities (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL,
    canonical_name  TEXT NOT NULL,
    description     TEXT
);
CREATE INDEX kb_entities_by_name ON kb_entities (canonical_name COLLATE NOCASE);

-- Every name of an entity, with the source that asserted it and its form
-- ('name', 'demonym', 'metonym').
CREATE TABLE kb_aliases (
    entity_id   INTEGER NOT NULL REFERENCES kb_entities(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    provenance  TEXT NOT NULL,
    form        TEXT NOT NULL DEFAULT 'name',
    UNIQUE (entity_id, name, provenance, form)
);
CREATE INDEX kb_aliases_by_name ON kb_aliases (name COLLATE NOCASE);

CREATE TABLE kb_external_ids (
    entity_id   INTEGER NOT NULL REFERENCES kb_entities(id) ON DELETE CASCADE,
    system      TEXT NOT NULL,
    value       TEXT NOT NULL,
    UNIQUE (system, value)
);
CREATE INDEX kb_external_ids_by_entity ON kb_external_ids (entity_id);

CREATE TABLE kb_relations (
    entity_id   INTEGER NOT NULL REFERENCES kb_entities(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    target_id   INTEGER NOT NULL REFERENCES kb_entities(id) ON DELETE CASCADE,
    provenance  TEXT NOT NULL,
    UNIQUE (entity_id, kind, target_id, provenance)
);
