//! The cost of ingesting an item must not grow with the stored corpus. Nothing here is
//! timed: the same thousand generated reports are ingested into an empty data folder and
//! into one that already holds 19,000 others, each run writing its SQL profile
//! (`--sql-profile`), and the two profiles are compared statement by statement. Every query
//! plan the ingest used is then checked for whole-table scans of the big tables.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use threatdesk_testkit::corpus::Generator;

use crate::Workspace;

/// Items already stored when the probe is ingested the second time.
const BACKGROUND: u64 = 19_000;
/// Items whose ingestion is profiled.
const PROBE: u64 = 1_000;

/// The tables that grow with the corpus: no statement an ingest runs may walk them whole.
const BIG_TABLES: [&str; 6] = [
    "items",
    "findings",
    "story_items",
    "item_sketches",
    "items_fts",
    "stories",
];

#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    runs: u64,
    vm_steps: u64,
    fullscan_steps: u64,
}

fn read_profile(path: &Path) -> BTreeMap<String, Cost> {
    let json: Value =
        serde_json::from_slice(&std::fs::read(path).expect("profile written")).expect("profile JSON");
    json["by_sql"]
        .as_object()
        .expect("by_sql")
        .iter()
        .map(|(sql, cost)| {
            let field = |name: &str| cost[name].as_u64().expect("counter");
            (
                sql.clone(),
                Cost {
                    runs: field("runs"),
                    vm_steps: field("vm_steps"),
                    fullscan_steps: field("fullscan_steps"),
                },
            )
        })
        .collect()
}

/// SQLite's own statements on the full-text index's shadow tables (segment writes and
/// merges), as opposed to the statements threatdesk prepares.
fn is_full_text_internal(sql: &str) -> bool {
    sql.contains("'items_fts_")
}

/// The mean size of the stories the probe's items are in: a story's digest reads its
/// members, so that cost follows the stories' size (bounded by the clustering window, and
/// larger when the probe joins events the background began), not the corpus's.
fn mean_probe_story_size(db: &Path) -> f64 {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database");
    conn.query_row(
        "SELECT avg(s.item_count) FROM stories s WHERE s.id IN (
             SELECT si.story_id FROM story_items si JOIN items i ON i.id = si.item_id
             WHERE i.canonical_url LIKE '%/probe/%')",
        [],
        |row| row.get(0),
    )
    .expect("story sizes")
}

/// Statements that read one story's members.
fn reads_story_members(sql: &str) -> bool {
    sql.contains("WHERE si.story_id = ?1")
}

fn ingest_with_profile(ws: &Workspace, pages: &Path, profile: &Path) {
    let run = ws.run(&[
        "-q",
        "--sql-profile",
        profile.to_str().expect("utf-8 path"),
        "ingest",
        pages.to_str().expect("utf-8 path"),
    ]);
    assert_eq!(run.code, 0, "{run:?}");
}

#[test]
fn ingesting_an_item_costs_the_same_sql_at_twenty_thousand_items_as_at_one_thousand() {
    let Some(pool) = crate::corpus_pool() else {
        return;
    };
    let scratch = Workspace::create();
    let now = chrono::Utc::now().timestamp();
    // The probe follows the background in the generator's sequence: it reports on events
    // the background began and on new ones, as the next day's news would.
    let mut generator = Generator::new(pool, 7, 4, BACKGROUND + PROBE, now - 365 * 86_400, 365);
    let background = scratch.dir.path().join("background");
    let probe = scratch.dir.path().join("probe");
    crate::write_generated_pages(&mut generator, &background, BACKGROUND, 0);
    crate::write_generated_pages(&mut generator, &probe, PROBE, BACKGROUND);

    let small_ws = Workspace::create();
    let small_profile = scratch.dir.path().join("small.json");
    ingest_with_profile(&small_ws, &probe, &small_profile);

    let large_ws = Workspace::create();
    let run = large_ws.run(&["-q", "ingest", background.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 0, "{run:?}");
    let large_profile = scratch.dir.path().join("large.json");
    ingest_with_profile(&large_ws, &probe, &large_profile);

    let small = read_profile(&small_profile);
    let large = read_profile(&large_profile);
    let story_growth = mean_probe_story_size(&large_ws.data_dir().join("threatdesk.db"))
        / mean_probe_story_size(&small_ws.data_dir().join("threatdesk.db"));
    assert!(
        story_growth < 4.0,
        "the probe's stories are {story_growth:.1}x larger at 20k: clustering lumps events together"
    );

    // Statements that run for (nearly) every item: their number and their cost per run.
    let per_item = |cost: &Cost| cost.runs >= PROBE / 4;
    let mut checked = 0;
    let (mut internal_small, mut internal_large) = (0u64, 0u64);
    for (sql, at_large) in &large {
        let at_small = small.get(sql).copied().unwrap_or_default();
        if is_full_text_internal(sql) {
            internal_small += at_small.vm_steps;
            internal_large += at_large.vm_steps;
            continue;
        }
        if !per_item(at_large) && !per_item(&at_small) {
            continue;
        }
        checked += 1;
        let runs = (at_small.runs as f64, at_large.runs as f64);
        assert!(
            runs.1 <= runs.0 * 1.1 + 5.0,
            "{sql}\nran {} times for {PROBE} items at 20k, {} times at 1k",
            at_large.runs,
            at_small.runs
        );
        let per_run = |cost: Cost| cost.vm_steps as f64 / cost.runs.max(1) as f64;
        let allowed = if reads_story_members(sql) {
            1.25 * story_growth.max(1.0)
        } else {
            1.25
        };
        assert!(
            per_run(*at_large) <= per_run(at_small) * allowed + 10.0,
            "{sql}\ntakes {:.1} steps per run at 20k, {:.1} at 1k (the probe's stories: {story_growth:.2}x larger)",
            per_run(*at_large),
            per_run(at_small)
        );
        assert_eq!(
            at_large.fullscan_steps, 0,
            "{sql}\nruns for every item and walks a table whole"
        );
    }
    assert!(
        checked >= 10,
        "only {checked} per-item statements were seen: is the profile complete?"
    );
    let total = |profile: &BTreeMap<String, Cost>, internal: bool| -> (u64, u64) {
        profile
            .iter()
            .filter(|(sql, _)| is_full_text_internal(sql) == internal)
            .fold((0, 0), |(runs, steps), (_, c)| {
                (runs + c.runs, steps + c.vm_steps)
            })
    };
    let each = |n: u64| n as f64 / PROBE as f64;
    eprintln!(
        "per item at 1k / 20k: statements {:.1} / {:.1}, steps {:.0} / {:.0}; full-text index steps {:.0} / {:.0}",
        each(total(&small, false).0),
        each(total(&large, false).0),
        each(total(&small, false).1),
        each(total(&large, false).1),
        each(total(&small, true).1),
        each(total(&large, true).1),
    );

    // The full-text index is a log-structured merge tree: each document is written once (a
    // batch's terms go out together) and rewritten once per level it is merged through, and
    // the levels grow with the logarithm of the corpus. Into an empty index the probe is
    // little more than written; twenty times the documents add at most log4(20) ≈ 2.2
    // levels (automerge joins four segments at a time): about 3.2 times the work per item.
    // Growth with the corpus itself would be twenty times.
    assert!(internal_small > 0, "no full-text writes were profiled");
    assert!(
        internal_large as f64 <= internal_small as f64 * 4.0,
        "full-text merging grew from {internal_small} to {internal_large} steps"
    );

    // No statement of the ingest, per item or not, plans a whole scan of a big table.
    let db = rusqlite::Connection::open_with_flags(
        large_ws.data_dir().join("threatdesk.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the database");
    for sql in large.keys().filter(|sql| !is_full_text_internal(sql)) {
        let Ok(mut plan) = db.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) else {
            continue;
        };
        // Parameters left unbound read as NULL: the plan is what matters, not the rows.
        let mut rows = plan.raw_query();
        let mut steps: Vec<String> = Vec::new();
        while let Some(row) = rows.next().expect("plan row") {
            steps.push(row.get(3).expect("plan detail"));
        }
        let aliases = tables_by_alias(sql);
        for step in &steps {
            let Some(scanned) = step.strip_prefix("SCAN ").and_then(|rest| rest.split(' ').next()) else {
                continue;
            };
            let table = aliases
                .get(&scanned.to_lowercase())
                .map_or(scanned, String::as_str);
            assert!(
                !BIG_TABLES.contains(&table),
                "{sql}\nplans a whole scan of {table}: {steps:?}"
            );
        }
    }
}

/// The tables a statement names, by the alias it gives them (a query plan says `SCAN si`,
/// not `SCAN story_items`).
fn tables_by_alias(sql: &str) -> BTreeMap<String, String> {
    const NOT_ALIASES: [&str; 14] = [
        "where", "join", "on", "left", "inner", "cross", "order", "group", "limit", "using", "set", "values",
        "natural", "union",
    ];
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let mut aliases = BTreeMap::new();
    for (index, word) in words.iter().enumerate() {
        if word != "from" && word != "join" {
            continue;
        }
        let Some(table) = words.get(index + 1) else {
            continue;
        };
        aliases.insert(table.clone(), table.clone());
        let mut next = index + 2;
        if words.get(next).is_some_and(|w| w == "as") {
            next += 1;
        }
        if let Some(alias) = words.get(next).filter(|w| !NOT_ALIASES.contains(&w.as_str())) {
            aliases.insert(alias.clone(), table.clone());
        }
    }
    aliases
}
