//! Collection records: source state and health, problems, feed entries seen.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use threatdesk_model::{ContentHash, HealthState, Source, SourceHealth, SourceId};

use crate::Result;
use crate::time::{from_millis, to_millis};

/// One collection of a source, as the collector reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionRun {
    /// The source.
    pub source_id: SourceId,
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status of the source's own document, when the server answered.
    pub http_status: Option<u16>,
    /// The failure, as (kind, message), when the source could not be read at all.
    pub error: Option<(String, String)>,
    /// New validators for conditional GET (`ETag`, `Last-Modified`); `None` keeps the old.
    pub validators: Option<(Option<String>, Option<String>)>,
    /// When the scheduler should try next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Entries the feed listed (1 for a web page).
    pub entries: u32,
    /// Entries skipped, degraded or the run's own failure, each with its reason.
    pub problems: Vec<CollectionProblem>,
}

/// A problem met while collecting: never silent, always stored with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectionProblem {
    /// When.
    pub at: DateTime<Utc>,
    /// `entry_rejected`, `article_fallback`, `fetch_failed`…
    pub kind: String,
    /// What it is about: a URL, or `entry N (id)`.
    pub input: String,
    /// Why.
    pub reason: String,
}

/// A feed entry handled in a collection: its identity and the hash of what the feed said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenEntry {
    /// The entry's identity (its canonical link, else the feed's address and its id).
    pub identity: String,
    /// The entry hash.
    pub hash: ContentHash,
}

pub(crate) fn record(tx: &Transaction<'_>, run: &CollectionRun, seen: &[SeenEntry]) -> Result<()> {
    let at = to_millis(run.attempted_at);
    tx.execute(
        "INSERT INTO source_state (source_id) VALUES (?1) ON CONFLICT (source_id) DO NOTHING",
        [run.source_id.0],
    )?;
    let problems = u32::try_from(run.problems.len()).unwrap_or(u32::MAX);
    match &run.error {
        None => tx.execute(
            "UPDATE source_state SET last_attempt_at = ?2, last_success_at = ?2, last_http_status = ?3,
                    last_error_kind = NULL, last_error = NULL, consecutive_failures = 0,
                    next_attempt_at = ?4, last_entries = ?5, last_problems = ?6
             WHERE source_id = ?1",
            params![
                run.source_id.0,
                at,
                run.http_status,
                run.next_attempt_at.map(to_millis),
                run.entries,
                problems
            ],
        )?,
        Some((kind, message)) => tx.execute(
            "UPDATE source_state SET last_attempt_at = ?2, last_http_status = ?3, last_error_kind = ?4,
                    last_error = ?5, consecutive_failures = consecutive_failures + 1, next_attempt_at = ?6,
                    last_problems = ?7
             WHERE source_id = ?1",
            params![
                run.source_id.0,
                at,
                run.http_status,
                kind,
                message,
                run.next_attempt_at.map(to_millis),
                problems
            ],
        )?,
    };
    if let Some((etag, last_modified)) = &run.validators {
        tx.execute(
            "UPDATE source_state SET etag = ?2, last_modified = ?3 WHERE source_id = ?1",
            params![run.source_id.0, etag, last_modified],
        )?;
    }
    let mut insert_problem = tx.prepare_cached(
        "INSERT INTO collection_problems (source_id, at, kind, input, reason) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for p in &run.problems {
        insert_problem.execute(params![
            run.source_id.0,
            to_millis(p.at),
            p.kind,
            p.input,
            p.reason
        ])?;
    }
    let mut insert_seen = tx.prepare_cached(
        "INSERT INTO feed_entries (source_id, identity, entry_hash, seen_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (source_id, identity) DO UPDATE SET entry_hash = excluded.entry_hash, seen_at = excluded.seen_at",
    )?;
    for entry in seen {
        insert_seen.execute(params![run.source_id.0, entry.identity, entry.hash.as_str(), at])?;
    }
    Ok(())
}

pub(crate) fn seen_entries(
    conn: &Connection,
    source: SourceId,
    identities: &[String],
) -> Result<HashMap<String, ContentHash>> {
    let mut found = HashMap::new();
    // SQLite allows 32,766 parameters; stay far below.
    for chunk in identities.chunks(500) {
        let sql = format!(
            "SELECT identity, entry_hash FROM feed_entries WHERE source_id = ? AND identity IN ({})",
            crate::sqlite::placeholders(chunk.len())
        );
        let mut args = vec![Value::Integer(source.0)];
        args.extend(chunk.iter().map(|i| Value::Text(i.clone())));
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?;
        for row in rows {
            let (identity, hash) = row?;
            found.insert(
                identity,
                crate::sqlite::parse_hash(&hash, "feed_entries.entry_hash")?,
            );
        }
    }
    Ok(found)
}

pub(crate) fn health(conn: &Connection, source: &Source, now: DateTime<Utc>) -> Result<SourceHealth> {
    let day = to_millis(now - Duration::days(1));
    let week = to_millis(now - Duration::days(7));
    let (items_24h, items_7d): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE created_at >= ?2), count(*) FILTER (WHERE created_at >= ?3)
             FROM items WHERE source_id = ?1",
        )?
        .query_row(params![source.id.0, day, week], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    type StateRow = (
        Option<String>,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
        i64,
        Option<i64>,
        i64,
        i64,
    );
    let state: Option<StateRow> = conn
        .prepare_cached(
            "SELECT etag, last_modified, last_attempt_at, last_success_at, last_http_status, last_error_kind,
                    last_error, consecutive_failures, next_attempt_at, last_entries, last_problems
             FROM source_state WHERE source_id = ?1",
        )?
        .query_row([source.id.0], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
                row.get(7)?,
                row.get(8)?,
                row.get(9)?,
                row.get(10)?,
            ))
        })
        .optional()?;
    let time = |ms: Option<i64>, column| ms.map(|ms| from_millis(ms, column)).transpose();
    let mut health = SourceHealth {
        items_24h: u64::try_from(items_24h).unwrap_or(0),
        items_7d: u64::try_from(items_7d).unwrap_or(0),
        ..SourceHealth::default()
    };
    if let Some((etag, modified, attempt, success, status, kind, error, failures, next, entries, problems)) =
        state
    {
        health.etag = etag;
        health.last_modified = modified;
        health.last_attempt_at = time(attempt, "source_state.last_attempt_at")?;
        health.last_success_at = time(success, "source_state.last_success_at")?;
        health.last_http_status = status.and_then(|s| u16::try_from(s).ok());
        health.last_error_kind = kind;
        health.last_error = error;
        health.consecutive_failures = u32::try_from(failures).unwrap_or(u32::MAX);
        health.next_attempt_at = time(next, "source_state.next_attempt_at")?;
        health.last_entries = u32::try_from(entries).unwrap_or(0);
        health.last_problems = u32::try_from(problems).unwrap_or(0);
    }
    health.state = HealthState::judge(
        source.spec.enabled,
        health.last_attempt_at.is_some(),
        health.consecutive_failures,
        health.last_problems,
    );
    Ok(health)
}

pub(crate) fn problems(conn: &Connection, source: SourceId, limit: u32) -> Result<Vec<CollectionProblem>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, kind, input, reason FROM collection_problems WHERE source_id = ?1
         ORDER BY at DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![source.0, limit], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
        ))
    })?;
    rows.map(|row| {
        let (at, kind, input, reason) = row?;
        Ok(CollectionProblem {
            at: from_millis(at, "collection_problems.at")?,
            kind,
            input,
            reason,
        })
    })
    .collect()
}
