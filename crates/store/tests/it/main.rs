//! Black-box tests of the SQLite store, each on a real database file in a temporary folder.

mod bulletins;
mod items;
mod knowledge_base;
mod newsletter;
mod open;
mod search;
mod stories;

use chrono::{DateTime, TimeZone, Utc};
use tempfile::TempDir;
use threatdesk_model::{NewItem, NewSource, Source, SourceKind, Tlp};
use threatdesk_store::{SqliteStore, Store};

/// A store in a fresh temporary folder; keep the folder alive as long as the store.
pub fn temp_store() -> (TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let store = SqliteStore::open(dir.path().join("threatdesk.db")).expect("open store");
    (dir, store)
}

/// A file source named `name`, created if missing.
pub fn file_source(store: &SqliteStore, name: &str) -> Source {
    store
        .ensure_source(&NewSource::new(name, SourceKind::File, "/reports"))
        .expect("source")
}

/// Noon UTC on day `d` of March 2025.
pub fn day(d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, d, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// An item with its content hash computed as collectors do.
pub fn item(source: &Source, url: &str, title: &str, text: &str) -> NewItem {
    NewItem {
        source_id: source.id,
        canonical_url: url.to_owned(),
        original_url: Some(url.to_owned()),
        guid: None,
        title: title.to_owned(),
        author: None,
        published_at: None,
        fetched_at: day(1),
        language: Some("eng".to_owned()),
        text: text.to_owned(),
        html: None,
        content_hash: threatdesk_text::content_hash(title, text),
        tlp: Tlp::Clear,
    }
}
