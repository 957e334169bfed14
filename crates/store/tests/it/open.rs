use threatdesk_store::{SCHEMA_VERSION, SqliteStore, Store, StoreError};

use crate::{file_source, temp_store};

#[test]
fn a_new_database_is_migrated_to_the_current_schema() {
    let (_dir, store) = temp_store();
    let stats = store.stats().expect("stats");
    assert_eq!(stats.schema_version, SCHEMA_VERSION);
    assert_eq!((stats.sources, stats.items, stats.bulletins), (0, 0, 0));
}

#[test]
fn reopening_keeps_data_and_does_not_migrate_again() {
    let (dir, store) = temp_store();
    file_source(&store, "files");
    drop(store);
    let reopened = SqliteStore::open(dir.path().join("threatdesk.db")).expect("reopen");
    assert_eq!(reopened.stats().expect("stats").sources, 1);
}

// A database from a newer threatdesk must be refused, not misread or "migrated" downwards.
#[test]
fn a_database_from_a_newer_version_is_refused_with_a_clear_message() {
    let (dir, store) = temp_store();
    drop(store);
    let path = dir.path().join("threatdesk.db");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 7)
        .expect("bump version");
    drop(conn);

    let error = SqliteStore::open(&path).expect_err("must refuse");
    assert!(matches!(error, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 7));
    let message = error.to_string();
    assert!(
        message.contains("upgrade threatdesk") && message.contains(&path.display().to_string()),
        "{message}"
    );
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY)")
        .expect("create");
    drop(conn);
    let error = SqliteStore::open(&path).expect_err("must refuse");
    assert!(matches!(error, StoreError::ForeignDatabase { .. }), "{error}");
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.db");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).expect("write");
    let before = std::fs::read(&path).expect("read");
    assert!(SqliteStore::open(&path).is_err());
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn sources_are_created_once_by_name() {
    let (_dir, store) = temp_store();
    let first = file_source(&store, "files");
    let again = file_source(&store, "files");
    assert_eq!(first, again);
    assert_eq!(store.list_sources().expect("list").len(), 1);
    assert_eq!(
        store.source_by_name("files").expect("lookup").map(|s| s.id),
        Some(first.id)
    );
    assert_eq!(store.source(first.id).expect("by id"), Some(first));
}
