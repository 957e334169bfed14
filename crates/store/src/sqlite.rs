//! The embedded SQLite implementation of [`Store`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use threatdesk_model::{
    Alias, AliasForm, Bulletin, BulletinId, BulletinStatus, ContentHash, Entity, EntityId, EntityKind,
    ExternalId, Finding, FindingKind, Item, ItemId, NewBulletin, NewItem, NewSource, Relation, RelationKind,
    Slug, Source, SourceHealth, SourceId, SourceKind, Span, StoryId, Tlp,
};

use crate::collection::{self, CollectionProblem, CollectionRun, SeenEntry};
use crate::search::ParsedQuery;
use crate::stories::{
    self, StoryAuditEntry, StoryDigest, StoryFacets, StoryFilter, StoryMember, StoryPlacement, StorySummary,
};
use crate::time::{from_millis, now_millis, to_millis};
use crate::{
    DocumentFilter, HitKind, ItemFilter, ItemSummary, Result, SearchHit, SearchQuery, SearchResults,
    SearchScope, Snippet, Store, StoreError, StoreStats, UpsertOutcome, migrate,
};

/// Reader connections kept open between calls.
const MAX_IDLE_READERS: usize = 4;

/// A [`Store`] on one SQLite file in WAL mode: one writer connection, a small pool of
/// readers, so searches never wait for an ingest to commit.
pub struct SqliteStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
    /// Declared last, so dropped last: its connection, the last one open, copies what is
    /// left of the log into the database and removes it, as SQLite's last connection does.
    checkpointer: Option<crate::checkpoint::Checkpointer>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to
    /// [`crate::SCHEMA_VERSION`]. The parent folder must exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_owned();
        let mut writer = connect(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        writer
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        migrate::migrate(&mut writer, &path)?;
        let checkpointer = crate::checkpoint::Checkpointer::start(&path);
        if checkpointer.is_some() {
            writer
                .pragma_update(
                    None,
                    "wal_autocheckpoint",
                    crate::checkpoint::WRITER_FALLBACK_PAGES,
                )
                .map_err(|source| StoreError::Open {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(Self {
            path,
            writer: Mutex::new(writer),
            readers: Mutex::new(Vec::new()),
            checkpointer,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let pooled = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        let conn = match pooled {
            Some(conn) => conn,
            None => connect(&self.path, OpenFlags::SQLITE_OPEN_READ_ONLY)?,
        };
        let result = f(&conn);
        let mut readers = self
            .readers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if readers.len() < MAX_IDLE_READERS {
            readers.push(conn);
        }
        result
    }

    fn write<T>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        drop(conn);
        if let Some(checkpointer) = &self.checkpointer {
            checkpointer.committed();
        }
        Ok(value)
    }
}

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let flags = flags | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })?;
    // A 64 MiB page cache per connection (SQLite's default is 2 MiB): the upper levels of
    // the items, findings and full-text b-trees stay in memory at a million items, so a
    // lookup or an insert reads a leaf page from disk at most.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA cache_size = -65536;")
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
    crate::profile::attach(&conn);
    Ok(conn)
}

impl Store for SqliteStore {
    fn stats(&self) -> Result<StoreStats> {
        self.read(|conn| {
            let schema_version: u32 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
            let count = |table: &str| -> Result<u64> {
                let n: i64 =
                    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0))?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(StoreStats {
                schema_version,
                sources: count("sources")?,
                items: count("items")?,
                bulletins: count("bulletins")?,
            })
        })
    }

    fn ensure_source(&self, spec: &NewSource) -> Result<Source> {
        self.write(|tx| {
            if let Some(existing) = source_where(tx, "name = ?1", &spec.name)? {
                return Ok(existing);
            }
            insert_source(tx, spec)
        })
    }

    fn add_source(&self, spec: &NewSource) -> Result<Source> {
        self.write(|tx| {
            ensure_source_unique(tx, spec, None)?;
            insert_source(tx, spec)
        })
    }

    fn update_source(&self, id: SourceId, spec: &NewSource) -> Result<Source> {
        self.write(|tx| {
            ensure_source_unique(tx, spec, Some(id))?;
            let changed = tx.execute(
                "UPDATE sources SET name = ?2, kind = ?3, location = ?4, poll_interval_secs = ?5, default_tlp = ?6,
                        tags = ?7, reliability = ?8, enabled = ?9, allow_private = ?10
                 WHERE id = ?1",
                params![
                    id.0,
                    spec.name,
                    spec.kind.as_str(),
                    spec.location,
                    spec.poll_interval_secs.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
                    spec.default_tlp.as_str(),
                    to_json(&spec.tags),
                    spec.reliability.to_string(),
                    spec.enabled,
                    spec.allow_private,
                ],
            )?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "source", id: id.0 });
            }
            source_where(tx, "id = ?1", &id.0)?.ok_or(StoreError::NotFound { what: "source", id: id.0 })
        })
    }

    fn remove_source(&self, id: SourceId, with_items: bool) -> Result<u64> {
        self.write(|tx| {
            let source = source_where(tx, "id = ?1", &id.0)?.ok_or(StoreError::NotFound {
                what: "source",
                id: id.0,
            })?;
            let items: i64 =
                tx.query_row("SELECT count(*) FROM items WHERE source_id = ?1", [id.0], |row| {
                    row.get(0)
                })?;
            let items = u64::try_from(items).unwrap_or(0);
            if items > 0 && !with_items {
                return Err(StoreError::SourceHasItems {
                    name: source.spec.name,
                    items,
                });
            }
            // Members leave their stories while their findings are there to subtract
            // (schema 13); the cascade from `items` would not say in which order.
            tx.execute(
                "DELETE FROM story_items WHERE item_id IN (SELECT id FROM items WHERE source_id = ?1)",
                [id.0],
            )?;
            tx.execute("DELETE FROM items WHERE source_id = ?1", [id.0])?;
            tx.execute("DELETE FROM sources WHERE id = ?1", [id.0])?;
            stories::drop_empty(tx)?;
            Ok(items)
        })
    }

    fn list_source_health(&self) -> Result<Vec<(Source, SourceHealth)>> {
        let sources = self.list_sources()?;
        let now = chrono::Utc::now();
        self.read(|conn| {
            sources
                .into_iter()
                .map(|source| {
                    let health = collection::health(conn, &source, now)?;
                    Ok((source, health))
                })
                .collect()
        })
    }

    fn source_health(&self, source: &Source) -> Result<SourceHealth> {
        self.read(|conn| collection::health(conn, source, chrono::Utc::now()))
    }

    fn record_collection(
        &self,
        run: &CollectionRun,
        items: &[(NewItem, Vec<Finding>)],
        seen: &[SeenEntry],
    ) -> Result<Vec<UpsertOutcome>> {
        self.write(|tx| {
            let outcomes = upsert_with_findings(tx, items)?;
            collection::record(tx, run, seen)?;
            Ok(outcomes)
        })
    }

    fn place_items(&self, placements: &[StoryPlacement]) -> Result<Vec<StoryId>> {
        self.write(|tx| stories::place_all(tx, placements))
    }

    fn set_story_digests(&self, digests: &[StoryDigest]) -> Result<()> {
        self.write(|tx| stories::set_digests(tx, digests))
    }

    fn list_stories(&self, filter: &StoryFilter) -> Result<Vec<StorySummary>> {
        self.read(|conn| stories::list(conn, filter))
    }

    fn story(&self, id: StoryId) -> Result<Option<StorySummary>> {
        self.read(|conn| stories::get(conn, id))
    }

    fn story_members(&self, id: StoryId) -> Result<Vec<StoryMember>> {
        self.read(|conn| stories::members(conn, id))
    }

    fn story_facets(&self, ids: &[StoryId]) -> Result<Vec<(StoryId, StoryFacets)>> {
        self.read(|conn| {
            ids.iter()
                .map(|&id| Ok((id, stories::facets(conn, id)?)))
                .collect()
        })
    }

    fn merge_stories(&self, from: StoryId, into: StoryId, actor: &str) -> Result<u64> {
        self.write(|tx| stories::merge(tx, from, into, actor))
    }

    fn move_to_story(
        &self,
        items: &[ItemId],
        to: Option<StoryId>,
        actor: &str,
        action: &str,
    ) -> Result<StoryId> {
        self.write(|tx| stories::move_items(tx, items, to, actor, action))
    }

    fn story_audit(&self, id: StoryId) -> Result<Vec<StoryAuditEntry>> {
        self.read(|conn| stories::audit_log(conn, id))
    }

    fn clustered_between(
        &self,
        since: chrono::DateTime<chrono::Utc>,
        until: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<(ItemId, StoryId, Vec<u8>)>> {
        self.read(|conn| stories::features_between(conn, since, until))
    }

    fn story_of_item(&self, item: ItemId) -> Result<Option<StoryId>> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT story_id FROM story_items WHERE item_id = ?1",
                    [item.0],
                    |row| row.get::<_, i64>(0),
                )
                .optional()?
                .map(StoryId))
        })
    }

    fn unclustered_items(&self, limit: u32) -> Result<Vec<ItemId>> {
        self.read(|conn| stories::unclustered(conn, limit))
    }

    fn seen_entries(&self, source: SourceId, identities: &[String]) -> Result<HashMap<String, ContentHash>> {
        self.read(|conn| collection::seen_entries(conn, source, identities))
    }

    fn collection_problems(&self, source: SourceId, limit: u32) -> Result<Vec<CollectionProblem>> {
        self.read(|conn| collection::problems(conn, source, limit))
    }

    fn source(&self, id: SourceId) -> Result<Option<Source>> {
        self.read(|conn| source_where(conn, "id = ?1", &id.0))
    }

    fn source_by_name(&self, name: &str) -> Result<Option<Source>> {
        self.read(|conn| source_where(conn, "name = ?1", &name))
    }

    fn list_sources(&self) -> Result<Vec<Source>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare_cached(&format!("SELECT {SOURCE_COLUMNS} FROM sources ORDER BY name"))?;
            let rows = stmt.query_map([], RawSource::from_row)?;
            rows.map(|raw| raw?.into_source()).collect()
        })
    }

    fn upsert_items(&self, items: &[NewItem]) -> Result<Vec<UpsertOutcome>> {
        self.write(|tx| {
            let now = now_millis();
            items.iter().map(|item| upsert_item(tx, item, now)).collect()
        })
    }

    fn item(&self, id: ItemId) -> Result<Option<Item>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"))?;
            let raw = stmt.query_row([id.0], RawItem::from_row).optional()?;
            raw.map(RawItem::into_item).transpose()
        })
    }

    fn list_items(&self, filter: &ItemFilter) -> Result<Vec<ItemSummary>> {
        self.read(|conn| {
            let mut sql = String::from(
                "SELECT i.id, i.source_id, s.name, i.title, i.canonical_url, i.published_at, i.fetched_at, i.tlp,
                        length(CAST(i.text AS BLOB)), i.revision
                 FROM items i JOIN sources s ON s.id = i.source_id WHERE 1 = 1",
            );
            let mut args: Vec<Value> = Vec::new();
            push_item_filters(&mut sql, &mut args, &filter.documents);
            sql.push_str(" ORDER BY coalesce(i.published_at, i.fetched_at) DESC, i.id DESC LIMIT ? OFFSET ?");
            args.push(Value::Integer(i64::from(filter.limit.unwrap_or(50))));
            args.push(Value::Integer(i64::from(filter.offset)));
            let mut stmt = conn.prepare(&sql)?;
            let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                    row.get::<_, i64>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, i64>(8)?,
                    row.get::<_, i64>(9)?,
                ))
            })?;
            rows.map(|row| {
                let (id, source_id, source_name, title, canonical_url, published, fetched, tlp, bytes, revision) =
                    row?;
                Ok(ItemSummary {
                    id: ItemId(id),
                    source_id: SourceId(source_id),
                    source_name,
                    title,
                    canonical_url,
                    published_at: published.map(|ms| from_millis(ms, "items.published_at")).transpose()?,
                    fetched_at: from_millis(fetched, "items.fetched_at")?,
                    tlp: parse_column(&tlp, "items.tlp")?,
                    text_bytes: u64::try_from(bytes).unwrap_or(0),
                    revision: u32::try_from(revision).unwrap_or(u32::MAX),
                })
            })
            .collect()
        })
    }

    fn upsert_items_with_findings(&self, items: &[(NewItem, Vec<Finding>)]) -> Result<Vec<UpsertOutcome>> {
        self.write(|tx| upsert_with_findings(tx, items))
    }

    fn knowledge_base(&self) -> Result<Option<Vec<Entity>>> {
        self.read(|conn| {
            let mut entities: Vec<Entity> = Vec::new();
            let mut stmt =
                conn.prepare("SELECT id, kind, canonical_name, description FROM kb_entities ORDER BY id")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let kind: String = row.get(1)?;
                entities.push(Entity {
                    id: EntityId(row.get(0)?),
                    kind: kind
                        .parse::<EntityKind>()
                        .map_err(|e| corrupt("kb_entities.kind", e))?,
                    canonical_name: row.get(2)?,
                    aliases: Vec::new(),
                    external_ids: Vec::new(),
                    relations: Vec::new(),
                    description: row.get(3)?,
                });
            }
            if entities.is_empty() {
                return Ok(None);
            }
            let position: HashMap<i64, usize> =
                entities.iter().enumerate().map(|(i, e)| (e.id.0, i)).collect();
            let index = |id: i64, table: &'static str| -> Result<usize> {
                position
                    .get(&id)
                    .copied()
                    .ok_or_else(|| corrupt(table, format!("no entity {id}")))
            };
            let mut stmt =
                conn.prepare("SELECT entity_id, name, provenance, form FROM kb_aliases ORDER BY rowid")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let form: String = row.get(3)?;
                let form: AliasForm = serde_json::from_value(serde_json::Value::String(form))
                    .map_err(|e| corrupt("kb_aliases.form", e))?;
                entities[index(row.get(0)?, "kb_aliases")?].aliases.push(Alias {
                    name: row.get(1)?,
                    provenance: row.get(2)?,
                    form,
                });
            }
            let mut stmt =
                conn.prepare("SELECT entity_id, system, value FROM kb_external_ids ORDER BY rowid")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                entities[index(row.get(0)?, "kb_external_ids")?]
                    .external_ids
                    .push(ExternalId::new(
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ));
            }
            let mut stmt = conn
                .prepare("SELECT entity_id, kind, target_id, provenance FROM kb_relations ORDER BY rowid")?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let kind: String = row.get(1)?;
                let relation = Relation {
                    kind: kind
                        .parse::<RelationKind>()
                        .map_err(|e| corrupt("kb_relations.kind", e))?,
                    target: EntityId(row.get(2)?),
                    provenance: row.get(3)?,
                };
                entities[index(row.get(0)?, "kb_relations")?]
                    .relations
                    .push(relation);
            }
            Ok(Some(entities))
        })
    }

    fn replace_knowledge_base(&self, entities: &[Entity]) -> Result<()> {
        self.write(|tx| {
            tx.execute_batch(
                "DELETE FROM kb_relations; DELETE FROM kb_external_ids; DELETE FROM kb_aliases; DELETE FROM kb_entities;",
            )?;
            let mut insert_entity =
                tx.prepare("INSERT INTO kb_entities (id, kind, canonical_name, description) VALUES (?1, ?2, ?3, ?4)")?;
            let mut insert_alias = tx.prepare(
                "INSERT OR IGNORE INTO kb_aliases (entity_id, name, provenance, form) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let mut insert_id =
                tx.prepare("INSERT OR IGNORE INTO kb_external_ids (entity_id, system, value) VALUES (?1, ?2, ?3)")?;
            let mut insert_relation = tx.prepare(
                "INSERT OR IGNORE INTO kb_relations (entity_id, kind, target_id, provenance) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for entity in entities {
                insert_entity.execute(params![
                    entity.id.0,
                    entity.kind.as_str(),
                    entity.canonical_name,
                    entity.description
                ])?;
            }
            for entity in entities {
                for alias in &entity.aliases {
                    let form = match alias.form {
                        AliasForm::Name => "name",
                        AliasForm::Demonym => "demonym",
                        AliasForm::Metonym => "metonym",
                    };
                    insert_alias.execute(params![entity.id.0, alias.name, alias.provenance, form])?;
                }
                for id in &entity.external_ids {
                    insert_id.execute(params![entity.id.0, id.system, id.id])?;
                }
                for relation in &entity.relations {
                    insert_relation.execute(params![
                        entity.id.0,
                        relation.kind.as_str(),
                        relation.target.0,
                        relation.provenance
                    ])?;
                }
            }
            Ok(())
        })
    }

    fn replace_findings(&self, item: ItemId, findings: &[Finding]) -> Result<()> {
        self.write(|tx| write_findings(tx, item, findings))
    }

    fn item_findings(&self, item: ItemId) -> Result<Vec<Finding>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT kind, value, text, span_start, span_end, confidence, entity_ids, flags
                 FROM findings WHERE item_id = ?1 ORDER BY span_start, id",
            )?;
            let rows = stmt.query_map([item.0], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, i64>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, f64>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                ))
            })?;
            rows.map(|row| {
                let (kind, value, text, start, end, confidence, entity_ids, flags) = row?;
                Ok(Finding {
                    item_id: item,
                    kind: parse_column(&kind, "findings.kind")?,
                    value,
                    text,
                    span: Span {
                        start: usize::try_from(start).unwrap_or(0),
                        end: usize::try_from(end).unwrap_or(0),
                    },
                    confidence: confidence as f32,
                    entity_ids: from_json(&entity_ids, "findings.entity_ids")?,
                    flags: from_json(&flags, "findings.flags")?,
                })
            })
            .collect()
        })
    }

    fn items_with_finding(&self, kind: FindingKind, value: &str) -> Result<Vec<ItemId>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT DISTINCT f.item_id FROM findings f JOIN items i ON i.id = f.item_id
                 WHERE f.kind = ?1 AND f.value = ?2
                 ORDER BY coalesce(i.published_at, i.fetched_at) DESC, f.item_id DESC",
            )?;
            let rows = stmt.query_map(params![kind.as_str(), value], |row| row.get::<_, i64>(0))?;
            rows.map(|id| Ok(ItemId(id?))).collect()
        })
    }

    fn create_bulletin(&self, bulletin: &NewBulletin) -> Result<Bulletin> {
        self.write(|tx| {
            ensure_slug_free(tx, &bulletin.slug, None)?;
            let now = now_millis();
            tx.execute(
                "INSERT INTO bulletins (kind, title, slug, summary, analyst_notes, tlp, severity, authors, status,
                                        version, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?10)",
                params![
                    bulletin.kind.as_str(),
                    bulletin.title,
                    bulletin.slug.as_str(),
                    bulletin.summary,
                    bulletin.analyst_notes,
                    bulletin.tlp.as_str(),
                    bulletin.severity.as_str(),
                    to_json(&bulletin.authors),
                    BulletinStatus::Draft.as_str(),
                    now,
                ],
            )?;
            let id = BulletinId(tx.last_insert_rowid());
            write_bulletin_relations(tx, id, bulletin)?;
            let saved = load_bulletin(tx, id)?.ok_or(StoreError::NotFound { what: "bulletin", id: id.0 })?;
            snapshot_bulletin(tx, &saved)?;
            Ok(saved)
        })
    }

    fn update_bulletin(
        &self,
        id: BulletinId,
        content: &NewBulletin,
        expected_version: u32,
    ) -> Result<Bulletin> {
        self.write(|tx| {
            let current = load_bulletin(tx, id)?.ok_or(StoreError::NotFound { what: "bulletin", id: id.0 })?;
            if current.version != expected_version {
                return Err(StoreError::VersionConflict {
                    id: id.0,
                    expected: expected_version,
                    found: current.version,
                });
            }
            ensure_slug_free(tx, &content.slug, Some(id))?;
            tx.execute(
                "UPDATE bulletins SET kind = ?2, title = ?3, slug = ?4, summary = ?5, analyst_notes = ?6, tlp = ?7,
                        severity = ?8, authors = ?9, version = version + 1, updated_at = ?10
                 WHERE id = ?1",
                params![
                    id.0,
                    content.kind.as_str(),
                    content.title,
                    content.slug.as_str(),
                    content.summary,
                    content.analyst_notes,
                    content.tlp.as_str(),
                    content.severity.as_str(),
                    to_json(&content.authors),
                    now_millis(),
                ],
            )?;
            tx.execute("DELETE FROM bulletin_tags WHERE bulletin_id = ?1", [id.0])?;
            tx.execute("DELETE FROM bulletin_links WHERE bulletin_id = ?1", [id.0])?;
            write_bulletin_relations(tx, id, content)?;
            let saved = load_bulletin(tx, id)?.ok_or(StoreError::NotFound { what: "bulletin", id: id.0 })?;
            snapshot_bulletin(tx, &saved)?;
            Ok(saved)
        })
    }

    fn set_bulletin_status(&self, id: BulletinId, status: BulletinStatus) -> Result<Bulletin> {
        self.write(|tx| {
            let current = load_bulletin(tx, id)?.ok_or(StoreError::NotFound {
                what: "bulletin",
                id: id.0,
            })?;
            let next = current.status.transition_to(status)?;
            let now = now_millis();
            tx.execute(
                "UPDATE bulletins SET status = ?2,
                        published_at = CASE WHEN ?2 = 'published' THEN ?3 ELSE published_at END
                 WHERE id = ?1",
                params![id.0, next.as_str(), now],
            )?;
            load_bulletin(tx, id)?.ok_or(StoreError::NotFound {
                what: "bulletin",
                id: id.0,
            })
        })
    }

    fn bulletin(&self, id: BulletinId) -> Result<Option<Bulletin>> {
        self.read(|conn| load_bulletin(conn, id))
    }

    fn list_bulletins(&self, filter: &crate::BulletinFilter) -> Result<Vec<Bulletin>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT id, status, tlp FROM bulletins ORDER BY updated_at DESC, id DESC")?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let limit = filter.limit.unwrap_or(100) as usize;
            let mut bulletins = Vec::new();
            for (id, status, tlp) in rows {
                if bulletins.len() >= limit {
                    break;
                }
                let status_ok = filter.status.is_none_or(|wanted| wanted.as_str() == status);
                let tlp_ok = match (filter.tlp_ceiling, tlp.parse::<Tlp>()) {
                    (Some(ceiling), Ok(tlp)) => tlp <= ceiling,
                    (Some(_), Err(_)) => false,
                    (None, _) => true,
                };
                if status_ok
                    && tlp_ok
                    && let Some(bulletin) = load_bulletin(conn, BulletinId(id))?
                {
                    bulletins.push(bulletin);
                }
            }
            Ok(bulletins)
        })
    }

    fn bulletin_versions(&self, id: BulletinId) -> Result<Vec<Bulletin>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT snapshot FROM bulletin_versions WHERE bulletin_id = ?1 ORDER BY version",
            )?;
            let rows = stmt.query_map([id.0], |row| row.get::<_, String>(0))?;
            rows.map(|json| {
                serde_json::from_str(&json?).map_err(|e| StoreError::Corrupt {
                    column: "bulletin_versions.snapshot",
                    reason: e.to_string(),
                })
            })
            .collect()
        })
    }

    fn publication_epoch(&self) -> Result<crate::PublicationEpoch> {
        self.read(|conn| {
            let (value, changed_at): (i64, i64) = conn
                .prepare_cached("SELECT value, changed_at FROM publication_epoch WHERE id = 1")?
                .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(crate::PublicationEpoch {
                value,
                changed_at: crate::time::from_millis(
                    changed_at.saturating_mul(1000),
                    "publication_epoch.changed_at",
                )?,
            })
        })
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResults> {
        let parsed = ParsedQuery::parse(&query.text)?;
        let window = u64::from(query.limit.unwrap_or(20)) + u64::from(query.offset);
        self.read(|conn| {
            let mut hits = Vec::new();
            let mut total = 0;
            if query.scope != SearchScope::Bulletins {
                let (found, count) = search_items(conn, &parsed, query, window)?;
                hits.extend(found);
                total += count;
            }
            if query.scope != SearchScope::Items {
                let (found, count) = search_bulletins(conn, &parsed, query, window)?;
                hits.extend(found);
                total += count;
            }
            hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(b.date.cmp(&a.date)));
            let hits = hits
                .into_iter()
                .skip(query.offset as usize)
                .take(query.limit.unwrap_or(20) as usize)
                .collect();
            Ok(SearchResults { hits, total })
        })
    }
}

// ---- sources ----

const SOURCE_COLUMNS: &str = "id, name, kind, location, poll_interval_secs, default_tlp, tags, reliability, enabled, created_at, allow_private";

fn source_where(conn: &Connection, condition: &str, arg: &dyn rusqlite::ToSql) -> Result<Option<Source>> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {SOURCE_COLUMNS} FROM sources WHERE {condition}"))?;
    let raw = stmt.query_row([arg], RawSource::from_row).optional()?;
    raw.map(RawSource::into_source).transpose()
}

fn insert_source(tx: &Transaction<'_>, spec: &NewSource) -> Result<Source> {
    tx.execute(
        "INSERT INTO sources (name, kind, location, poll_interval_secs, default_tlp, tags, reliability,
                              enabled, created_at, allow_private)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            spec.name,
            spec.kind.as_str(),
            spec.location,
            spec.poll_interval_secs
                .map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
            spec.default_tlp.as_str(),
            to_json(&spec.tags),
            spec.reliability.to_string(),
            spec.enabled,
            now_millis(),
            spec.allow_private,
        ],
    )?;
    let id = tx.last_insert_rowid();
    source_where(tx, "id = ?1", &id)?.ok_or(StoreError::NotFound { what: "source", id })
}

/// Names are unique; so are the addresses of polled sources (one feed, one source).
fn ensure_source_unique(tx: &Transaction<'_>, spec: &NewSource, except: Option<SourceId>) -> Result<()> {
    let other = |found: Option<Source>| found.filter(|s| Some(s.id) != except);
    if let Some(existing) = other(source_where(tx, "name = ?1", &spec.name)?) {
        return Err(StoreError::SourceExists {
            field: "name",
            value: spec.name.clone(),
            existing: existing.spec.name,
        });
    }
    if matches!(spec.kind, SourceKind::Feed | SourceKind::WebPage)
        && let Some(existing) = other(source_where(
            tx,
            "location = ?1 AND kind IN ('feed', 'web_page')",
            &spec.location,
        )?)
    {
        return Err(StoreError::SourceExists {
            field: "address",
            value: spec.location.clone(),
            existing: existing.spec.name,
        });
    }
    Ok(())
}

/// Upserts items and writes the findings of new and changed ones, in the caller's transaction.
fn upsert_with_findings(
    tx: &Transaction<'_>,
    items: &[(NewItem, Vec<Finding>)],
) -> Result<Vec<UpsertOutcome>> {
    let now = now_millis();
    items
        .iter()
        .map(|(item, findings)| {
            let outcome = upsert_item(tx, item, now)?;
            if matches!(
                outcome,
                UpsertOutcome::Inserted { .. } | UpsertOutcome::Updated { .. }
            ) {
                write_findings(tx, outcome.item_id(), findings)?;
            }
            Ok(outcome)
        })
        .collect()
}

struct RawSource {
    id: i64,
    name: String,
    kind: String,
    location: String,
    poll_interval_secs: Option<i64>,
    default_tlp: String,
    tags: String,
    reliability: String,
    enabled: bool,
    created_at: i64,
    allow_private: bool,
}

impl RawSource {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            name: row.get(1)?,
            kind: row.get(2)?,
            location: row.get(3)?,
            poll_interval_secs: row.get(4)?,
            default_tlp: row.get(5)?,
            tags: row.get(6)?,
            reliability: row.get(7)?,
            enabled: row.get(8)?,
            created_at: row.get(9)?,
            allow_private: row.get(10)?,
        })
    }

    fn into_source(self) -> Result<Source> {
        Ok(Source {
            id: SourceId(self.id),
            spec: NewSource {
                name: self.name,
                kind: parse_column(&self.kind, "sources.kind")?,
                location: self.location,
                poll_interval_secs: self.poll_interval_secs.and_then(|s| u64::try_from(s).ok()),
                default_tlp: parse_column(&self.default_tlp, "sources.default_tlp")?,
                tags: from_json(&self.tags, "sources.tags")?,
                reliability: parse_column(&self.reliability, "sources.reliability")?,
                enabled: self.enabled,
                allow_private: self.allow_private,
            },
            created_at: from_millis(self.created_at, "sources.created_at")?,
        })
    }
}

// ---- items ----

const ITEM_COLUMNS: &str = "id, source_id, canonical_url, original_url, guid, title, author, published_at, \
     fetched_at, language, text, html, content_hash, previous_hash, revision, tlp, created_at, updated_at";

fn upsert_item(tx: &Transaction<'_>, item: &NewItem, now: i64) -> Result<UpsertOutcome> {
    let by_url = tx
        .prepare_cached("SELECT id, content_hash FROM items WHERE source_id = ?1 AND canonical_url = ?2")?
        .query_row(params![item.source_id.0, item.canonical_url], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
        })
        .optional()?;
    let existing = match (by_url, &item.guid) {
        (Some(found), _) => Some(found),
        (None, Some(guid)) => tx
            .prepare_cached("SELECT id, content_hash FROM items WHERE source_id = ?1 AND guid = ?2 LIMIT 1")?
            .query_row(params![item.source_id.0, guid], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?,
        (None, None) => None,
    };

    if let Some((id, stored_hash)) = existing {
        if stored_hash == item.content_hash.as_str() {
            return Ok(UpsertOutcome::Unchanged { id: ItemId(id) });
        }
        execute_with_item(
            tx,
            "UPDATE items SET canonical_url = ?2, original_url = ?3, guid = ?4, title = ?5, author = ?6,
                    published_at = ?7, fetched_at = ?8, language = ?9, text = ?10, html = ?11,
                    previous_hash = content_hash, content_hash = ?12, revision = revision + 1, tlp = ?13,
                    updated_at = ?14
             WHERE id = ?1",
            id,
            item,
            now,
        )?;
        let previous_hash = parse_hash(&stored_hash, "items.content_hash")?;
        return Ok(UpsertOutcome::Updated {
            id: ItemId(id),
            previous_hash,
        });
    }

    let duplicate_of = tx
        .prepare_cached("SELECT id FROM items WHERE source_id = ?1 AND content_hash = ?2 LIMIT 1")?
        .query_row(params![item.source_id.0, item.content_hash.as_str()], |row| {
            row.get::<_, i64>(0)
        })
        .optional()?;
    if let Some(of) = duplicate_of {
        return Ok(UpsertOutcome::Duplicate { of: ItemId(of) });
    }

    execute_with_item(
        tx,
        "INSERT INTO items (source_id, canonical_url, original_url, guid, title, author, published_at, fetched_at,
                            language, text, html, content_hash, tlp, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
        item.source_id.0,
        item,
        now,
    )?;
    let id = tx.last_insert_rowid();
    // Its full-text entry, by this statement rather than a trigger (schema 14).
    tx.prepare_cached("INSERT INTO items_fts (rowid, title, text) VALUES (?1, ?2, ?3)")?
        .execute(params![id, item.title, item.text])?;
    // Queued for clustering in the transaction that stores it: a crash can delay a
    // placement, never lose one.
    tx.prepare_cached("INSERT OR IGNORE INTO cluster_queue (item_id) VALUES (?1)")?
        .execute([id])?;
    Ok(UpsertOutcome::Inserted { id: ItemId(id) })
}

/// Runs an item statement whose parameters are: `?1` a key (the item's id to update, or
/// its source's id to insert), `?2`–`?13` the item's columns in table order, `?14` now.
fn execute_with_item(tx: &Transaction<'_>, sql: &str, key: i64, item: &NewItem, now: i64) -> Result<()> {
    tx.prepare_cached(sql)?.execute(params![
        key,
        item.canonical_url,
        item.original_url,
        item.guid,
        item.title,
        item.author,
        item.published_at.map(to_millis),
        to_millis(item.fetched_at),
        item.language,
        item.text,
        item.html,
        item.content_hash.as_str(),
        item.tlp.as_str(),
        now,
    ])?;
    Ok(())
}

/// Replaces an item's findings inside the caller's transaction. An item already in a story
/// takes its entity names out of the story's roll-up first and puts the new ones in after
/// (schema 13); a new item is in no story yet.
fn write_findings(tx: &Transaction<'_>, item: ItemId, findings: &[Finding]) -> Result<()> {
    let story = story_of_item(tx, item)?;
    if let Some(story) = story {
        request_story_entities(tx, story, item, -1)?;
    }
    tx.prepare_cached("DELETE FROM findings WHERE item_id = ?1")?
        .execute([item.0])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO findings (item_id, kind, value, text, span_start, span_end, confidence, entity_ids, flags)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for f in findings {
        stmt.execute(params![
            item.0,
            f.kind.as_str(),
            f.value,
            f.text,
            i64::try_from(f.span.start).unwrap_or(i64::MAX),
            i64::try_from(f.span.end).unwrap_or(i64::MAX),
            f64::from(f.confidence),
            to_json(&f.entity_ids),
            to_json(&f.flags),
        ])?;
    }
    if let Some(story) = story {
        request_story_entities(tx, story, item, 1)?;
    }
    Ok(())
}

fn story_of_item(tx: &Transaction<'_>, item: ItemId) -> Result<Option<StoryId>> {
    Ok(tx
        .prepare_cached("SELECT story_id FROM story_items WHERE item_id = ?1")?
        .query_row([item.0], |row| row.get(0).map(StoryId))
        .optional()?)
}

/// Adds (`sign` 1) or takes away (-1) an item's entity names in a story's roll-up.
fn request_story_entities(tx: &Transaction<'_>, story: StoryId, item: ItemId, sign: i64) -> Result<()> {
    tx.prepare_cached("INSERT INTO story_entity_requests (story_id, item_id, sign) VALUES (?1, ?2, ?3)")?
        .execute(params![story.0, item.0, sign])?;
    Ok(())
}

struct RawItem {
    id: i64,
    source_id: i64,
    canonical_url: String,
    original_url: Option<String>,
    guid: Option<String>,
    title: String,
    author: Option<String>,
    published_at: Option<i64>,
    fetched_at: i64,
    language: Option<String>,
    text: String,
    html: Option<String>,
    content_hash: String,
    previous_hash: Option<String>,
    revision: i64,
    tlp: String,
    created_at: i64,
    updated_at: i64,
}

impl RawItem {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            source_id: row.get(1)?,
            canonical_url: row.get(2)?,
            original_url: row.get(3)?,
            guid: row.get(4)?,
            title: row.get(5)?,
            author: row.get(6)?,
            published_at: row.get(7)?,
            fetched_at: row.get(8)?,
            language: row.get(9)?,
            text: row.get(10)?,
            html: row.get(11)?,
            content_hash: row.get(12)?,
            previous_hash: row.get(13)?,
            revision: row.get(14)?,
            tlp: row.get(15)?,
            created_at: row.get(16)?,
            updated_at: row.get(17)?,
        })
    }

    fn into_item(self) -> Result<Item> {
        Ok(Item {
            id: ItemId(self.id),
            content: NewItem {
                source_id: SourceId(self.source_id),
                canonical_url: self.canonical_url,
                original_url: self.original_url,
                guid: self.guid,
                title: self.title,
                author: self.author,
                published_at: self
                    .published_at
                    .map(|ms| from_millis(ms, "items.published_at"))
                    .transpose()?,
                fetched_at: from_millis(self.fetched_at, "items.fetched_at")?,
                language: self.language,
                text: self.text,
                html: self.html,
                content_hash: parse_hash(&self.content_hash, "items.content_hash")?,
                tlp: parse_column(&self.tlp, "items.tlp")?,
            },
            previous_hash: self
                .previous_hash
                .map(|h| parse_hash(&h, "items.previous_hash"))
                .transpose()?,
            revision: u32::try_from(self.revision).unwrap_or(u32::MAX),
            created_at: from_millis(self.created_at, "items.created_at")?,
            updated_at: from_millis(self.updated_at, "items.updated_at")?,
        })
    }
}

fn push_item_filters(sql: &mut String, args: &mut Vec<Value>, filter: &DocumentFilter) {
    push_item_filters_on(sql, args, filter, "i");
}

/// [`push_item_filters`] on the items table (or index) named `alias`.
fn push_item_filters_on(sql: &mut String, args: &mut Vec<Value>, filter: &DocumentFilter, alias: &str) {
    if !filter.source_ids.is_empty() {
        sql.push_str(&format!(
            " AND {alias}.source_id IN ({})",
            placeholders(filter.source_ids.len())
        ));
        args.extend(filter.source_ids.iter().map(|id| Value::Integer(id.0)));
    }
    push_time_and_tlp(
        sql,
        args,
        &format!("coalesce({alias}.published_at, {alias}.fetched_at)"),
        &format!("{alias}.tlp"),
        filter,
    );
}

/// Whether a filter restricts items by anything but the text.
fn filters_items(filter: &DocumentFilter) -> bool {
    !filter.source_ids.is_empty()
        || filter.since.is_some()
        || filter.until.is_some()
        || filter.tlp_ceiling.is_some()
}

fn push_time_and_tlp(
    sql: &mut String,
    args: &mut Vec<Value>,
    date_expr: &str,
    tlp_column: &str,
    filter: &DocumentFilter,
) {
    if let Some(since) = filter.since {
        sql.push_str(&format!(" AND {date_expr} >= ?"));
        args.push(Value::Integer(to_millis(since)));
    }
    if let Some(until) = filter.until {
        sql.push_str(&format!(" AND {date_expr} < ?"));
        args.push(Value::Integer(to_millis(until)));
    }
    if let Some(ceiling) = filter.tlp_ceiling {
        let allowed: Vec<Tlp> = Tlp::ALL
            .into_iter()
            .filter(|t| t.visible_under(ceiling))
            .collect();
        sql.push_str(&format!(" AND {tlp_column} IN ({})", placeholders(allowed.len())));
        args.extend(allowed.iter().map(|t| Value::Text(t.as_str().to_owned())));
    }
}

pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

// ---- bulletins ----

fn ensure_slug_free(tx: &Transaction<'_>, slug: &Slug, except: Option<BulletinId>) -> Result<()> {
    let holder: Option<i64> = tx
        .prepare_cached("SELECT id FROM bulletins WHERE slug = ?1")?
        .query_row([slug.as_str()], |row| row.get(0))
        .optional()?;
    match holder {
        Some(id) if Some(BulletinId(id)) != except => Err(StoreError::SlugTaken(slug.to_string())),
        _ => Ok(()),
    }
}

fn write_bulletin_relations(tx: &Transaction<'_>, id: BulletinId, bulletin: &NewBulletin) -> Result<()> {
    let mut tag_stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO bulletin_tags (bulletin_id, tag, position) VALUES (?1, ?2, ?3)",
    )?;
    for (position, tag) in bulletin.tags.iter().enumerate() {
        tag_stmt.execute(params![id.0, tag, position as i64])?;
    }
    let mut link_stmt = tx.prepare_cached(
        "INSERT OR IGNORE INTO bulletin_links (bulletin_id, target_kind, target_id, position)
         VALUES (?1, ?2, ?3, ?4)",
    )?;
    let links = bulletin
        .story_ids
        .iter()
        .map(|s| ("story", s.0))
        .chain(bulletin.item_ids.iter().map(|i| ("item", i.0)))
        .chain(bulletin.entity_ids.iter().map(|e| ("entity", e.0)));
    for (position, (kind, target)) in links.enumerate() {
        link_stmt.execute(params![id.0, kind, target, position as i64])?;
    }
    Ok(())
}

fn snapshot_bulletin(tx: &Transaction<'_>, bulletin: &Bulletin) -> Result<()> {
    tx.execute(
        "INSERT INTO bulletin_versions (bulletin_id, version, snapshot, saved_at) VALUES (?1, ?2, ?3, ?4)",
        params![
            bulletin.id.0,
            bulletin.version,
            to_json(bulletin),
            to_millis(bulletin.updated_at)
        ],
    )?;
    Ok(())
}

pub(crate) fn load_bulletin(conn: &Connection, id: BulletinId) -> Result<Option<Bulletin>> {
    let row = conn
        .prepare_cached(
            "SELECT kind, title, slug, summary, analyst_notes, tlp, severity, authors, status, version,
                    created_at, updated_at, published_at
             FROM bulletins WHERE id = ?1",
        )?
        .query_row([id.0], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
                row.get::<_, String>(8)?,
                row.get::<_, i64>(9)?,
                row.get::<_, i64>(10)?,
                row.get::<_, i64>(11)?,
                row.get::<_, Option<i64>>(12)?,
            ))
        })
        .optional()?;
    let Some((
        kind,
        title,
        slug,
        summary,
        notes,
        tlp,
        severity,
        authors,
        status,
        version,
        created,
        updated,
        published,
    )) = row
    else {
        return Ok(None);
    };

    let tags = conn
        .prepare_cached("SELECT tag FROM bulletin_tags WHERE bulletin_id = ?1 ORDER BY position")?
        .query_map([id.0], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut story_ids = Vec::new();
    let mut item_ids = Vec::new();
    let mut entity_ids = Vec::new();
    let mut links_stmt = conn.prepare_cached(
        "SELECT target_kind, target_id FROM bulletin_links WHERE bulletin_id = ?1 ORDER BY position",
    )?;
    let links = links_stmt.query_map([id.0], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
    })?;
    for link in links {
        match link? {
            (kind, target) if kind == "story" => story_ids.push(StoryId(target)),
            (kind, target) if kind == "item" => item_ids.push(ItemId(target)),
            (kind, target) if kind == "entity" => entity_ids.push(EntityId(target)),
            (kind, _) => {
                return Err(StoreError::Corrupt {
                    column: "bulletin_links.target_kind",
                    reason: format!("unknown link kind {kind:?}"),
                });
            }
        }
    }

    Ok(Some(Bulletin {
        id,
        content: NewBulletin {
            kind: parse_column(&kind, "bulletins.kind")?,
            title,
            slug: Slug::parse(&slug).map_err(|e| StoreError::Corrupt {
                column: "bulletins.slug",
                reason: e.to_string(),
            })?,
            summary,
            analyst_notes: notes,
            tlp: parse_column(&tlp, "bulletins.tlp")?,
            severity: parse_column(&severity, "bulletins.severity")?,
            tags,
            story_ids,
            item_ids,
            entity_ids,
            authors: from_json(&authors, "bulletins.authors")?,
        },
        status: parse_column(&status, "bulletins.status")?,
        version: u32::try_from(version).unwrap_or(u32::MAX),
        created_at: from_millis(created, "bulletins.created_at")?,
        updated_at: from_millis(updated, "bulletins.updated_at")?,
        published_at: published
            .map(|ms| from_millis(ms, "bulletins.published_at"))
            .transpose()?,
    }))
}

// ---- search ----

/// An item search with more matches than this ranks only its newest this-many (in the order
/// they were stored, which is the order they were collected); its total still counts them all.
pub const RANKED_MATCHES: u64 = 10_000;

// In both searches, CROSS JOIN keeps the full-text index as the outer loop, so the planner
// never drives the join from an index on the content table and re-runs the MATCH per row;
// and `ORDER BY rank` (BM25 with weights configured in the schema) lets FTS5 sort by itself,
// so snippets are computed only for the rows a page returns.
//
// Item filters (source, dates, marking) are checked on `items_rollup_fields`, an index that
// holds just those columns (schema 12): an item's row is several pages long and its marking
// lies past the text, so checking it there would read every matching item whole. The count
// needs the items only when something filters them.
//
// A query with more than `RANKED_MATCHES` matches is ranked among its newest that many (by
// storage order, which is collection order): BM25 scores every match it ranks, and at a
// million items a common word matches a fifth of them. The total still counts every match.
fn search_items(
    conn: &Connection,
    parsed: &ParsedQuery,
    query: &SearchQuery,
    window: u64,
) -> Result<(Vec<SearchHit>, u64)> {
    let mut filters = String::new();
    let mut args = vec![Value::Text(parsed.fts5.clone())];
    push_item_filters_on(&mut filters, &mut args, &query.documents, "f");
    let filtered =
        "FROM items_fts CROSS JOIN items f INDEXED BY items_rollup_fields ON f.id = items_fts.rowid";
    let matches = if filters_items(&query.documents) {
        format!("{filtered} WHERE items_fts MATCH ?{filters}")
    } else {
        "FROM items_fts WHERE items_fts MATCH ?".to_owned()
    };
    let total = count_matches(conn, &matches, &args)?;
    if total > RANKED_MATCHES && window <= RANKED_MATCHES {
        let newest: i64 = conn
            .query_row(
                &format!(
                    "SELECT items_fts.rowid {matches} ORDER BY items_fts.rowid DESC LIMIT 1 OFFSET {}",
                    RANKED_MATCHES - 1
                ),
                rusqlite::params_from_iter(&args),
                |row| row.get(0),
            )
            .map_err(map_match_error)?;
        filters.push_str(" AND items_fts.rowid >= ?");
        args.push(Value::Integer(newest));
    }
    let from =
        format!("{filtered} CROSS JOIN items i ON i.id = items_fts.rowid WHERE items_fts MATCH ?{filters}");
    let columns = "i.id, i.title, items_fts.rank, f.source_id, coalesce(f.published_at, f.fetched_at), f.tlp,
                   snippet(items_fts, 1, char(2), char(3), '…', 24), ''";
    ranked_hits(conn, HitKind::Item, columns, &from, &args, window, total)
}

fn search_bulletins(
    conn: &Connection,
    parsed: &ParsedQuery,
    query: &SearchQuery,
    window: u64,
) -> Result<(Vec<SearchHit>, u64)> {
    let mut filters = String::new();
    let mut args = vec![Value::Text(parsed.fts5.clone())];
    if let Some(kind) = query.bulletin_kind {
        filters.push_str(" AND b.kind = ?");
        args.push(Value::Text(kind.as_str().to_owned()));
    }
    let date = "coalesce(b.published_at, b.updated_at)";
    push_time_and_tlp(&mut filters, &mut args, date, "b.tlp", &query.documents);
    let from = format!(
        "FROM bulletins_fts CROSS JOIN bulletins b ON b.id = bulletins_fts.rowid WHERE bulletins_fts MATCH ?{filters}"
    );
    let columns = "b.id, b.title, bulletins_fts.rank, NULL, coalesce(b.published_at, b.updated_at), b.tlp,
                   snippet(bulletins_fts, 1, char(2), char(3), '…', 24),
                   snippet(bulletins_fts, 2, char(2), char(3), '…', 24)";
    let total = count_matches(conn, &from, &args)?;
    ranked_hits(conn, HitKind::Bulletin, columns, &from, &args, window, total)
}

/// Runs a ranked full-text query whose `columns` are: id, title, rank, source id (or NULL),
/// date, TLP, a main snippet and a second snippet used only when the main one has no match
/// (a bulletin whose analyst notes match but whose summary does not). `total` is the number
/// of matches, counted by the caller.
fn ranked_hits(
    conn: &Connection,
    kind: HitKind,
    columns: &str,
    from: &str,
    args: &[Value],
    window: u64,
    total: u64,
) -> Result<(Vec<SearchHit>, u64)> {
    let sql = format!("SELECT {columns} {from} ORDER BY rank LIMIT {window}");
    let mut stmt = conn.prepare(&sql).map_err(map_match_error)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args), |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, f64>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, String>(5)?,
                row.get::<_, String>(6)?,
                row.get::<_, String>(7)?,
            ))
        })
        .map_err(map_match_error)?;
    let hits = rows
        .map(|row| {
            let (id, title, rank, source_id, date, tlp, main, fallback) = row.map_err(map_match_error)?;
            let main = Snippet::from_marked(&main);
            let fallback = Snippet::from_marked(&fallback);
            let snippet = if main.highlights.is_empty() && !fallback.highlights.is_empty() {
                fallback
            } else {
                main
            };
            Ok(SearchHit {
                kind,
                id,
                title,
                snippet,
                // FTS5's BM25 is lower-is-better; hits report higher-is-better.
                score: -rank,
                source_id: source_id.map(SourceId),
                date: from_millis(date, "search date")?,
                tlp: parse_column(&tlp, "search tlp")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((hits, total))
}

fn count_matches(conn: &Connection, from: &str, args: &[Value]) -> Result<u64> {
    let n: i64 = conn
        .query_row(
            &format!("SELECT count(*) {from}"),
            rusqlite::params_from_iter(args),
            |row| row.get(0),
        )
        .map_err(map_match_error)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// FTS5 reports query problems as generic SQL errors; name them as query errors.
fn map_match_error(error: rusqlite::Error) -> StoreError {
    let message = error.to_string();
    if message.contains("fts5") {
        StoreError::InvalidQuery(message)
    } else {
        StoreError::Sqlite(error)
    }
}

// ---- value helpers ----

fn parse_column<T>(text: &str, column: &'static str) -> Result<T>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse().map_err(|e: T::Err| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

pub(crate) fn parse_hash(text: &str, column: &'static str) -> Result<ContentHash> {
    ContentHash::from_hex(text).map_err(|e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

fn to_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serialising plain lists and model structs to JSON cannot fail.
    serde_json::to_string(value).unwrap_or_else(|_| String::from("null"))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, column: &'static str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        column,
        reason: e.to_string(),
    })
}

/// A stored value that does not parse back.
fn corrupt(column: &'static str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        column,
        reason: reason.to_string(),
    }
}

impl crate::Accounts for SqliteStore {
    fn count_users(&self) -> Result<u64> {
        self.read(crate::accounts::count_users)
    }

    fn create_user(&self, user: &crate::NewUser, password_hash: &str) -> Result<threatdesk_model::User> {
        self.write(|tx| crate::accounts::create_user(tx, user, password_hash))
    }

    fn user(&self, id: threatdesk_model::UserId) -> Result<Option<threatdesk_model::User>> {
        self.read(|conn| crate::accounts::user(conn, id))
    }

    fn user_for_login(&self, username: &str) -> Result<Option<(threatdesk_model::User, String)>> {
        self.read(|conn| crate::accounts::user_for_login(conn, username))
    }

    fn list_users(&self) -> Result<Vec<threatdesk_model::User>> {
        self.read(crate::accounts::list_users)
    }

    fn set_password(&self, id: threatdesk_model::UserId, password_hash: &str) -> Result<()> {
        self.write(|tx| crate::accounts::set_password(tx, id, password_hash))
    }

    fn set_user_disabled(&self, id: threatdesk_model::UserId, disabled: bool) -> Result<()> {
        self.write(|tx| crate::accounts::set_user_disabled(tx, id, disabled))
    }

    fn create_session(
        &self,
        token_hash: &[u8; 32],
        user: threatdesk_model::UserId,
        csrf_token: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        self.write(|tx| crate::accounts::create_session(tx, token_hash, user, csrf_token, expires_at))
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<(threatdesk_model::User, String)>> {
        self.read(|conn| crate::accounts::session(conn, token_hash))
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.write(|tx| crate::accounts::delete_session(tx, token_hash))
    }

    fn create_api_token(
        &self,
        user: threatdesk_model::UserId,
        name: &str,
        token_hash: &[u8; 32],
    ) -> Result<i64> {
        self.write(|tx| crate::accounts::create_api_token(tx, user, name, token_hash))
    }

    fn api_token_user(&self, token_hash: &[u8; 32]) -> Result<Option<threatdesk_model::User>> {
        self.write(|tx| crate::accounts::api_token_user(tx, token_hash))
    }

    fn list_api_tokens(&self, user: threatdesk_model::UserId) -> Result<Vec<crate::ApiTokenInfo>> {
        self.read(|conn| crate::accounts::list_api_tokens(conn, user))
    }

    fn revoke_api_token(&self, user: threatdesk_model::UserId, id: i64) -> Result<bool> {
        self.write(|tx| crate::accounts::revoke_api_token(tx, user, id))
    }

    fn mark_story(
        &self,
        user: threatdesk_model::UserId,
        story: threatdesk_model::StoryId,
        read: Option<bool>,
        important: Option<bool>,
    ) -> Result<()> {
        self.write(|tx| crate::accounts::mark_story(tx, user, story, read, important))
    }

    fn story_marks(
        &self,
        user: threatdesk_model::UserId,
        stories: &[threatdesk_model::StoryId],
    ) -> Result<std::collections::HashMap<threatdesk_model::StoryId, crate::StoryMark>> {
        self.read(|conn| crate::accounts::story_marks(conn, user, stories))
    }

    fn share_bulletin_with_readers(
        &self,
        bulletin: threatdesk_model::BulletinId,
        shared: bool,
    ) -> Result<()> {
        self.write(|tx| crate::accounts::share_bulletin_with_readers(tx, bulletin, shared))
    }

    fn bulletin_shared_with_readers(&self, bulletin: threatdesk_model::BulletinId) -> Result<bool> {
        self.read(|conn| crate::accounts::bulletin_shared_with_readers(conn, bulletin))
    }

    fn add_bulletin_comment(
        &self,
        bulletin: threatdesk_model::BulletinId,
        user: threatdesk_model::UserId,
        version: u32,
        body: &str,
    ) -> Result<()> {
        self.write(|tx| crate::accounts::add_bulletin_comment(tx, bulletin, user, version, body))
    }

    fn bulletin_comments(
        &self,
        bulletin: threatdesk_model::BulletinId,
    ) -> Result<Vec<crate::BulletinComment>> {
        self.read(|conn| crate::accounts::bulletin_comments(conn, bulletin))
    }
}

impl crate::Newsletter for SqliteStore {
    fn subscribe(&self, request: &crate::NewSubscription) -> Result<(threatdesk_model::Subscription, bool)> {
        self.write(|tx| crate::newsletter::subscribe(tx, request))
    }

    fn subscription(
        &self,
        id: threatdesk_model::SubscriptionId,
    ) -> Result<Option<threatdesk_model::Subscription>> {
        self.read(|conn| crate::newsletter::subscription(conn, id))
    }

    fn list_subscriptions(&self) -> Result<Vec<threatdesk_model::Subscription>> {
        self.read(crate::newsletter::list_subscriptions)
    }

    fn confirm_subscription(&self, id: threatdesk_model::SubscriptionId) -> Result<bool> {
        self.write(|tx| crate::newsletter::confirm_subscription(tx, id))
    }

    fn unsubscribe(&self, id: threatdesk_model::SubscriptionId) -> Result<bool> {
        self.write(|tx| crate::newsletter::unsubscribe(tx, id))
    }

    fn plan_mail(&self, now: chrono::DateTime<chrono::Utc>, all_digests_due: bool) -> Result<usize> {
        self.write(|tx| crate::newsletter::plan_mail(tx, now, all_digests_due))
    }

    fn claim_mail(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        lease: chrono::Duration,
        limit: u32,
    ) -> Result<Vec<crate::Mail>> {
        self.write(|tx| crate::newsletter::claim_mail(tx, now, lease, limit))
    }

    fn mail_sent(&self, mail: &crate::Mail, dropped: &[threatdesk_model::BulletinId]) -> Result<bool> {
        self.write(|tx| crate::newsletter::mail_sent(tx, mail, dropped))
    }

    fn mail_failed(
        &self,
        mail: &crate::Mail,
        error: &str,
        retry_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<bool> {
        self.write(|tx| crate::newsletter::mail_failed(tx, mail, error, retry_at))
    }

    fn mail_postponed(
        &self,
        mail: &crate::Mail,
        reason: &str,
        retry_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        self.write(|tx| crate::newsletter::mail_postponed(tx, mail, reason, retry_at))
    }

    fn mail_cancelled(&self, mail: &crate::Mail, reason: &str) -> Result<bool> {
        self.write(|tx| crate::newsletter::mail_cancelled(tx, mail, reason))
    }

    fn list_mail(&self, limit: u32) -> Result<Vec<crate::Mail>> {
        self.read(|conn| crate::newsletter::list_mail(conn, limit))
    }

    fn mail_counts(&self) -> Result<std::collections::BTreeMap<String, u64>> {
        self.read(crate::newsletter::mail_counts)
    }

    fn secret(&self, name: &str, fresh: [u8; 32]) -> Result<[u8; 32]> {
        self.write(|tx| crate::newsletter::secret(tx, name, fresh))
    }
}
