//! Numbered schema migrations, applied when a database is opened.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::{Result, StoreError};

/// Marks an SQLite file as a threatdesk database (`PRAGMA application_id`), so that
/// another program's database is refused instead of being "migrated".
const APPLICATION_ID: i32 = 0x5444_4b31; // "TDK1"

/// Migration `n` (1-based) takes the schema from version `n - 1` to `n`. Never edit a
/// released migration: add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_initial.sql"),
    include_str!("../migrations/0002_findings.sql"),
    include_str!("../migrations/0003_knowledge_base.sql"),
    include_str!("../migrations/0004_collection.sql"),
    include_str!("../migrations/0005_stories.sql"),
    include_str!("../migrations/0006_accounts.sql"),
    include_str!("../migrations/0007_shared_drafts.sql"),
    include_str!("../migrations/0008_newsletter.sql"),
    include_str!("../migrations/0009_cluster_queue.sql"),
    include_str!("../migrations/0010_near_duplicate_index.sql"),
    include_str!("../migrations/0011_publication_epoch.sql"),
    include_str!("../migrations/0012_story_rollups.sql"),
    include_str!("../migrations/0013_story_entities.sql"),
    include_str!("../migrations/0014_full_text_insert_without_trigger.sql"),
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per migration.
///
/// Runs under an immediate (write-locking) transaction and re-reads the version inside
/// it, so two processes opening the same new database cannot both migrate it.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<u32> {
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let application_id: i32 = tx.pragma_query_value(None, "application_id", |row| row.get(0))?;
        let version: u32 = tx.pragma_query_value(None, "user_version", |row| row.get(0))?;
        if application_id != APPLICATION_ID {
            let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
            if application_id != 0 || tables > 0 {
                return Err(StoreError::ForeignDatabase {
                    path: path.to_owned(),
                    found: application_id,
                });
            }
        }
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let Some(sql) = MIGRATIONS.get(version as usize) else {
            return Ok(version);
        };
        let next = version + 1;
        let migration_error = |source| StoreError::Migration {
            path: path.to_owned(),
            version: next,
            source,
        };
        tx.execute_batch(sql).map_err(migration_error)?;
        tx.pragma_update(None, "user_version", next)
            .map_err(migration_error)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)
            .map_err(migration_error)?;
        tx.commit().map_err(migration_error)?;
        tracing::info!(path = %path.display(), version = next, "Applied schema migration");
    }
}
