//! A `kill -9` in the middle of an ingest loses nothing and duplicates nothing: once while
//! the first items are being stored, once later while batches are stored and placed in
//! stories. The next run catches up, and the folder ends as a clean run leaves one.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use threatdesk_testkit::corpus::Generator;

use crate::Workspace;

const DOCUMENTS: u64 = 3_000;

fn count(db: &Path, sql: &str) -> i64 {
    let Ok(conn) = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row(sql, [], |row| row.get(0)).unwrap_or(0)
}

/// Starts an ingest of `pages` and kills it (SIGKILL) once `ready` holds, or when it ends.
fn ingest_and_kill(ws: &Workspace, pages: &Path, ready: impl Fn(&Path) -> bool) -> bool {
    let db = ws.data_dir().join("threatdesk.db");
    let mut child = ws
        .command(&["-q", "ingest", pages.to_str().expect("utf-8 path")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ingest");
    let deadline = Instant::now() + Duration::from_secs(600);
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        if ready(&db) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the ingest neither finished nor reached the point to kill it");
}

/// What must hold in any folder, crashed or not: a sound file, one item per document,
/// and every item either placed in exactly one story or queued for placement.
fn assert_consistent(db: &Path) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open");
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(verdict, "ok");
    let duplicated = count(
        db,
        "SELECT count(*) FROM (SELECT canonical_url FROM items GROUP BY source_id, canonical_url HAVING count(*) > 1)",
    );
    assert_eq!(duplicated, 0, "documents stored twice");
    let lost = count(
        db,
        "SELECT count(*) FROM items i WHERE NOT EXISTS (SELECT 1 FROM story_items s WHERE s.item_id = i.id)
           AND NOT EXISTS (SELECT 1 FROM cluster_queue q WHERE q.item_id = i.id)",
    );
    assert_eq!(lost, 0, "items neither in a story nor waiting for one");
    let fts = count(db, "SELECT count(*) FROM items_fts");
    assert_eq!(
        fts,
        count(db, "SELECT count(*) FROM items"),
        "the full-text index and the items differ"
    );
}

#[test]
fn ingest_killed_while_storing_and_while_clustering_loses_and_duplicates_nothing() {
    let Some(pool) = crate::corpus_pool() else {
        return;
    };
    let scratch = Workspace::create();
    let pages = scratch.dir.path().join("pages");
    let now = chrono::Utc::now().timestamp();
    let mut generator = Generator::new(pool, 11, 3, DOCUMENTS, now - 90 * 86_400, 90);
    crate::write_generated_pages(&mut generator, &pages, DOCUMENTS, 0);

    let clean = Workspace::create();
    let run = clean.run(&["-q", "ingest", pages.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 0, "{run:?}");
    let clean_db = clean.data_dir().join("threatdesk.db");
    let expected = count(&clean_db, "SELECT count(*) FROM items");
    assert!(expected > 2_000, "{expected} items");

    let crashed = Workspace::create();
    let db = crashed.data_dir().join("threatdesk.db");
    // First while storing: a third of the items are in.
    let killed = ingest_and_kill(&crashed, &pages, |db| {
        count(db, "SELECT count(*) FROM items") >= expected / 3
    });
    assert!(killed, "the ingest finished before it could be killed");
    assert_consistent(&db);
    assert!(count(&db, "SELECT count(*) FROM items") < expected);
    // Then again, once the second run has placed some of its items in stories (it stores
    // a batch and places it before reading on).
    let placed_before = count(&db, "SELECT count(*) FROM story_items");
    let killed = ingest_and_kill(&crashed, &pages, |db| {
        count(db, "SELECT count(*) FROM story_items") > placed_before + 200
    });
    assert_consistent(&db);
    if killed {
        assert!(
            count(&db, "SELECT count(*) FROM items") < expected
                || count(&db, "SELECT count(*) FROM cluster_queue") > 0,
            "killed with nothing left to do"
        );
    }
    // The next run catches up.
    let run = crashed.run(&["-q", "ingest", pages.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 0, "{run:?}");
    assert_consistent(&db);
    assert_eq!(count(&db, "SELECT count(*) FROM items"), expected);
    assert_eq!(count(&db, "SELECT count(*) FROM story_items"), expected);
    assert_eq!(count(&db, "SELECT count(*) FROM cluster_queue"), 0);
}
