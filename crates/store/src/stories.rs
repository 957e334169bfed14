//! Stories: items about one event, why each item joined, and analysts' changes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use threatdesk_model::{ItemId, SourceId, StoryId, Tlp};

use crate::time::{from_millis, now_millis, to_millis};
use crate::{Result, StoreError};

/// Where clustering put an item, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryPlacement {
    /// The item.
    pub item: ItemId,
    /// The story it joins.
    pub story: StoryTarget,
    /// The title of a new story.
    pub new_title: String,
    /// The decision's score.
    pub score: f64,
    /// The decision's signals, as JSON.
    pub reasons: String,
    /// The item it nearly duplicates.
    pub near_duplicate_of: Option<ItemId>,
    /// The item's clustering features (opaque to the store).
    pub features: Vec<u8>,
}

/// Which story a placement joins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoryTarget {
    /// A stored story.
    Existing(StoryId),
    /// A new story, titled with the placement's `new_title`.
    New,
    /// The story of the placement at this earlier position of the same call: a batch of
    /// placements can start a story and add to it in one transaction.
    SameAs(usize),
}

/// A story in a listing.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StorySummary {
    /// The story.
    pub id: StoryId,
    /// Its best headline.
    pub title: String,
    /// Its extractive summary.
    pub summary: String,
    /// Items in it.
    pub items: u32,
    /// Distinct sources that reported it.
    pub sources: u32,
    /// Its first item's date (published, else collected).
    pub first_seen: DateTime<Utc>,
    /// Its latest item's date.
    pub last_seen: DateTime<Utc>,
    /// Ranking score: sources, their reliability, recency.
    pub hotness: f64,
    /// The most restrictive marking among its items.
    pub tlp: Tlp,
}

/// What a story's members have in common, read from its roll-ups: what a list of stories
/// shows and filters by without reading each member.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoryFacets {
    /// The sources of its members, each once.
    pub sources: Vec<SourceId>,
    /// The entity names its members mention (threat actors, malware, tools, campaigns,
    /// CVEs and other entity mentions), each once, sorted.
    pub entities: Vec<String>,
}

/// One item of a story, with why it is there.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryMember {
    /// The item.
    pub item: ItemId,
    /// Its headline.
    pub title: String,
    /// Its source.
    pub source_id: SourceId,
    /// Its source's name.
    pub source_name: String,
    /// Its address.
    pub canonical_url: String,
    /// Published, else collected.
    pub date: DateTime<Utc>,
    /// The score it joined with.
    pub score: f64,
    /// The signals behind the decision (JSON array of `{kind, value, detail}`).
    pub reasons: serde_json::Value,
    /// The item it nearly duplicates.
    pub near_duplicate_of: Option<ItemId>,
    /// Placed by an analyst.
    pub pinned: bool,
}

/// One recorded analyst change.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoryAuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// `merge`, `move` or `split`.
    pub action: String,
    /// The story it concerns.
    pub story: Option<StoryId>,
    /// What changed (JSON).
    pub detail: serde_json::Value,
}

/// A story's title, summary and ranking, as clustering computes them.
#[derive(Debug, Clone, PartialEq)]
pub struct StoryDigest {
    /// The story.
    pub story: StoryId,
    /// Its best headline.
    pub title: String,
    /// Its extractive summary.
    pub summary: String,
    /// Ranking score: sources, their reliability, recency.
    pub hotness: f64,
}

/// Which stories [`crate::Store::list_stories`] returns.
#[derive(Debug, Clone, Default)]
pub struct StoryFilter {
    /// Only stories seen at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Hottest first instead of newest first.
    pub by_hotness: bool,
    /// Only stories whose items are all marked at most this restrictively.
    pub tlp_ceiling: Option<Tlp>,
    /// At most this many (default 50).
    pub limit: Option<u32>,
}

/// Stores a batch of placements in order; returns each item's story. A story created for
/// an item that an analyst keeps elsewhere (pinned) stays until the end of the batch, so
/// that later placements can still join it, and is removed then if it is empty.
pub(crate) fn place_all(tx: &Transaction<'_>, placements: &[StoryPlacement]) -> Result<Vec<StoryId>> {
    let now = now_millis();
    let mut placed: Vec<StoryId> = Vec::with_capacity(placements.len());
    // Per position: the story the placement went to (created or joined).
    let mut targets: Vec<StoryId> = Vec::with_capacity(placements.len());
    let mut created: Vec<StoryId> = Vec::new();
    for (position, placement) in placements.iter().enumerate() {
        let story =
            match placement.story {
                StoryTarget::Existing(story) => {
                    ensure_story(tx, story)?;
                    story
                }
                StoryTarget::New => {
                    let story = create(tx, &placement.new_title, now)?;
                    created.push(story);
                    story
                }
                StoryTarget::SameAs(earlier) => *targets.get(earlier).filter(|_| earlier < position).ok_or(
                    StoreError::InvalidPlacement {
                        position,
                        reason: format!(
                            "it joins the story of placement {earlier}, which does not come before it"
                        ),
                    },
                )?,
            };
        targets.push(story);
        placed.push(place(tx, placement, story, now)?);
    }
    for story in created {
        drop_if_empty(tx, story)?;
    }
    Ok(placed)
}

/// Stores one placement into `story`; returns where the item is (an item an analyst placed
/// stays where it is).
fn place(tx: &Transaction<'_>, placement: &StoryPlacement, story: StoryId, now: i64) -> Result<StoryId> {
    let previous: Option<i64> = tx
        .prepare_cached("SELECT story_id FROM story_items WHERE item_id = ?1")?
        .query_row([placement.item.0], |row| row.get(0))
        .optional()?;
    tx.prepare_cached(
        "INSERT INTO story_items (item_id, story_id, joined_at, score, reasons, near_duplicate_of)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (item_id) DO UPDATE SET story_id = excluded.story_id, joined_at = excluded.joined_at,
             score = excluded.score, reasons = excluded.reasons, near_duplicate_of = excluded.near_duplicate_of
         WHERE story_items.pinned = 0",
    )?
    .execute(params![
        placement.item.0,
        story.0,
        now,
        placement.score,
        placement.reasons,
        placement.near_duplicate_of.map(|i| i.0)
    ])?;
    tx.prepare_cached(
        "INSERT INTO item_sketches (item_id, features) VALUES (?1, ?2)
         ON CONFLICT (item_id) DO UPDATE SET features = excluded.features",
    )?
    .execute(params![placement.item.0, placement.features])?;
    tx.prepare_cached("DELETE FROM cluster_queue WHERE item_id = ?1")?
        .execute([placement.item.0])?;
    // A pinned item stays where the analyst put it.
    let actual: i64 = tx
        .prepare_cached("SELECT story_id FROM story_items WHERE item_id = ?1")?
        .query_row([placement.item.0], |row| row.get(0))?;
    tx.prepare_cached("UPDATE stories SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![actual, now])?;
    // Only the story the item left can have become empty.
    if let Some(previous) = previous.filter(|&p| p != actual) {
        drop_if_empty(tx, StoryId(previous))?;
    }
    Ok(StoryId(actual))
}

fn create(tx: &Transaction<'_>, title: &str, now: i64) -> Result<StoryId> {
    tx.execute(
        "INSERT INTO stories (title, created_at, updated_at) VALUES (?1, ?2, ?2)",
        params![title, now],
    )?;
    Ok(StoryId(tx.last_insert_rowid()))
}

/// Removes one story if it has no items left (after a move or a merge): one index
/// lookup, where [`drop_empty`] reads every story.
fn drop_if_empty(tx: &Transaction<'_>, story: StoryId) -> Result<()> {
    tx.prepare_cached(
        "DELETE FROM stories WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = ?1)",
    )?
    .execute([story.0])?;
    Ok(())
}

/// Stories left without items (after deleting a source's items) are removed.
pub(crate) fn drop_empty(tx: &Transaction<'_>) -> Result<()> {
    tx.execute(
        "DELETE FROM stories WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = stories.id)",
        [],
    )?;
    Ok(())
}

fn audit(
    tx: &Transaction<'_>,
    actor: &str,
    action: &str,
    story: StoryId,
    detail: serde_json::Value,
) -> Result<()> {
    tx.execute(
        "INSERT INTO story_audit (at, actor, action, story_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![now_millis(), actor, action, story.0, detail.to_string()],
    )?;
    Ok(())
}

fn ensure_story(tx: &Transaction<'_>, story: StoryId) -> Result<()> {
    let found: Option<i64> = tx
        .query_row("SELECT id FROM stories WHERE id = ?1", [story.0], |row| {
            row.get(0)
        })
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::NotFound {
        what: "story",
        id: story.0,
    })
}

pub(crate) fn merge(tx: &Transaction<'_>, from: StoryId, into: StoryId, actor: &str) -> Result<u64> {
    ensure_story(tx, from)?;
    ensure_story(tx, into)?;
    if from == into {
        return Ok(0);
    }
    let moved = tx.execute(
        "UPDATE story_items SET story_id = ?2, pinned = 1 WHERE story_id = ?1",
        params![from.0, into.0],
    )?;
    audit(
        tx,
        actor,
        "merge",
        into,
        serde_json::json!({"from": from.0, "into": into.0, "items": moved}),
    )?;
    drop_if_empty(tx, from)?;
    Ok(moved as u64)
}

pub(crate) fn move_items(
    tx: &Transaction<'_>,
    items: &[ItemId],
    to: Option<StoryId>,
    actor: &str,
    action: &str,
) -> Result<StoryId> {
    let mut from = Vec::new();
    for item in items {
        let story: Option<i64> = tx
            .query_row(
                "SELECT story_id FROM story_items WHERE item_id = ?1",
                [item.0],
                |row| row.get(0),
            )
            .optional()?;
        match story {
            Some(s) => from.push(s),
            None => {
                return Err(StoreError::NotFound {
                    what: "clustered item",
                    id: item.0,
                });
            }
        }
    }
    let target = match to {
        Some(story) => {
            ensure_story(tx, story)?;
            story
        }
        None => {
            let title: String = tx.query_row(
                "SELECT title FROM items WHERE id = ?1",
                [items.first().map_or(0, |i| i.0)],
                |row| row.get(0),
            )?;
            create(tx, &title, now_millis())?
        }
    };
    for item in items {
        tx.execute(
            "UPDATE story_items SET story_id = ?2, pinned = 1, near_duplicate_of = NULL WHERE item_id = ?1",
            params![item.0, target.0],
        )?;
    }
    let ids: Vec<i64> = items.iter().map(|i| i.0).collect();
    audit(
        tx,
        actor,
        action,
        target,
        serde_json::json!({"items": ids, "from": from, "to": target.0}),
    )?;
    for story in &from {
        drop_if_empty(tx, StoryId(*story))?;
    }
    Ok(target)
}

pub(crate) fn set_digests(tx: &Transaction<'_>, digests: &[StoryDigest]) -> Result<()> {
    let mut update =
        tx.prepare_cached("UPDATE stories SET title = ?2, summary = ?3, hotness = ?4 WHERE id = ?1")?;
    for digest in digests {
        update.execute(params![
            digest.story.0,
            digest.title,
            digest.summary,
            digest.hotness
        ])?;
    }
    Ok(())
}

/// A story and its roll-up (schema 12: kept on the row by triggers).
const STORY_SELECT: &str = "SELECT s.id, s.title, s.summary, s.hotness, s.item_count, s.source_count,
        s.first_seen, s.last_seen, s.tlp_rank FROM stories s";

/// A story row: id, title, summary, hotness, items, sources, first and last date, TLP rank.
type StoryRow = (i64, String, String, f64, i64, i64, i64, i64, i64);

fn story_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoryRow> {
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
    ))
}

fn summary_of(raw: StoryRow) -> Result<StorySummary> {
    let (id, title, summary, hotness, items, sources, first, last, tlp) = raw;
    Ok(StorySummary {
        id: StoryId(id),
        title,
        summary,
        items: u32::try_from(items).unwrap_or(0),
        sources: u32::try_from(sources).unwrap_or(0),
        first_seen: from_millis(first, "items.published_at")?,
        last_seen: from_millis(last, "items.published_at")?,
        hotness,
        tlp: Tlp::ALL
            .get(usize::try_from(tlp).unwrap_or(4))
            .copied()
            .unwrap_or(Tlp::Red),
    })
}

pub(crate) fn list(conn: &Connection, filter: &StoryFilter) -> Result<Vec<StorySummary>> {
    // `item_count > 0` lets the partial indexes on last_seen and hotness serve the order:
    // the listing reads about as many stories as it returns.
    let mut sql = format!("{STORY_SELECT} WHERE s.item_count > 0");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(since) = filter.since {
        sql.push_str(" AND s.last_seen >= ?");
        args.push(rusqlite::types::Value::Integer(to_millis(since)));
    }
    if let Some(ceiling) = filter.tlp_ceiling {
        let rank = Tlp::ALL.iter().position(|t| *t == ceiling).unwrap_or(4);
        sql.push_str(" AND s.tlp_rank <= ?");
        args.push(rusqlite::types::Value::Integer(rank as i64));
    }
    sql.push_str(if filter.by_hotness {
        " ORDER BY s.hotness DESC, s.id DESC"
    } else {
        " ORDER BY s.last_seen DESC, s.id DESC"
    });
    sql.push_str(" LIMIT ?");
    args.push(rusqlite::types::Value::Integer(i64::from(
        filter.limit.unwrap_or(50),
    )));
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), story_from_row)?;
    rows.map(|raw| summary_of(raw?)).collect()
}

pub(crate) fn get(conn: &Connection, id: StoryId) -> Result<Option<StorySummary>> {
    let sql = format!("{STORY_SELECT} WHERE s.id = ?1 AND s.item_count > 0");
    let raw = conn.query_row(&sql, [id.0], story_from_row).optional()?;
    raw.map(summary_of).transpose()
}

pub(crate) fn facets(conn: &Connection, id: StoryId) -> Result<StoryFacets> {
    let sources = conn
        .prepare_cached(
            "SELECT DISTINCT i.source_id FROM story_items si
             JOIN items i INDEXED BY items_rollup_fields ON i.id = si.item_id
             WHERE si.story_id = ?1 ORDER BY i.source_id",
        )?
        .query_map([id.0], |row| row.get(0).map(SourceId))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let entities = conn
        .prepare_cached("SELECT name FROM story_entities WHERE story_id = ?1 ORDER BY name")?
        .query_map([id.0], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(StoryFacets { sources, entities })
}

pub(crate) fn members(conn: &Connection, id: StoryId) -> Result<Vec<StoryMember>> {
    let mut stmt = conn.prepare_cached(
        "SELECT i.id, i.title, i.source_id, src.name, i.canonical_url, coalesce(i.published_at, i.fetched_at),
                si.score, si.reasons, si.near_duplicate_of, si.pinned
         FROM story_items si JOIN items i ON i.id = si.item_id JOIN sources src ON src.id = i.source_id
         WHERE si.story_id = ?1 ORDER BY coalesce(i.published_at, i.fetched_at), i.id",
    )?;
    let rows = stmt.query_map([id.0], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, i64>(5)?,
            row.get::<_, f64>(6)?,
            row.get::<_, String>(7)?,
            row.get::<_, Option<i64>>(8)?,
            row.get::<_, bool>(9)?,
        ))
    })?;
    rows.map(|row| {
        let (item, title, source, source_name, url, date, score, reasons, duplicate, pinned) = row?;
        Ok(StoryMember {
            item: ItemId(item),
            title,
            source_id: SourceId(source),
            source_name,
            canonical_url: url,
            date: from_millis(date, "items.published_at")?,
            score,
            reasons: serde_json::from_str(&reasons).unwrap_or(serde_json::Value::Null),
            near_duplicate_of: duplicate.map(ItemId),
            pinned,
        })
    })
    .collect()
}

pub(crate) fn audit_log(conn: &Connection, id: StoryId) -> Result<Vec<StoryAuditEntry>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, actor, action, story_id, detail FROM story_audit
         WHERE story_id = ?1 OR EXISTS (SELECT 1 FROM json_each(detail, '$.from') WHERE value = ?1)
         ORDER BY at, id",
    )?;
    let rows = stmt.query_map([id.0], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, Option<i64>>(3)?,
            row.get::<_, String>(4)?,
        ))
    })?;
    rows.map(|row| {
        let (at, actor, action, story, detail) = row?;
        Ok(StoryAuditEntry {
            at: from_millis(at, "story_audit.at")?,
            actor,
            action,
            story: story.map(StoryId),
            detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
        })
    })
    .collect()
}

/// Stored features of clustered items dated at or after `since`, with their story, oldest first.
pub(crate) fn features_between(
    conn: &Connection,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(ItemId, StoryId, Vec<u8>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT si.item_id, si.story_id, sk.features
         FROM story_items si JOIN item_sketches sk ON sk.item_id = si.item_id JOIN items i ON i.id = si.item_id
         WHERE coalesce(i.published_at, i.fetched_at) BETWEEN ?1 AND ?2
         ORDER BY coalesce(i.published_at, i.fetched_at), si.item_id",
    )?;
    let rows = stmt.query_map([to_millis(since), to_millis(until)], |row| {
        Ok((
            ItemId(row.get(0)?),
            StoryId(row.get(1)?),
            row.get::<_, Vec<u8>>(2)?,
        ))
    })?;
    rows.map(|row| row.map_err(Into::into)).collect()
}

/// Items not in any story yet, in the order they were stored: read from the clustering
/// queue, so the cost is the batch's, whatever the size of the corpus.
pub(crate) fn unclustered(conn: &Connection, limit: u32) -> Result<Vec<ItemId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT q.item_id FROM cluster_queue q
         WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.item_id = q.item_id)
         ORDER BY q.item_id LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], |row| row.get::<_, i64>(0))?;
    rows.map(|row| Ok(ItemId(row?))).collect()
}
