//! Persistence for threatdesk.
//!
//! Callers see the [`Store`] trait: a unit-of-work API (each method is one transaction,
//! batch methods included) over sources, items and bulletins, plus ranked full-text
//! [`search`](Store::search). [`SqliteStore`] implements it on an embedded SQLite
//! database in WAL mode, the zero-setup default; a PostgreSQL implementation can follow
//! behind the same trait because nothing SQLite-specific leaks through it: ids are
//! integers, times are UTC, and search queries use threatdesk's own small query
//! language ([`SearchQuery`]), which each backend translates for its engine.
//!
//! *Design*: the trait is synchronous. SQLite work is short and CPU-bound, and a blocking
//! API keeps the CLI simple; the server calls it from `spawn_blocking`. Schema changes are
//! numbered migrations applied when the store is opened; a database written by a newer
//! threatdesk is refused rather than misread.
//!
//! Only this crate knows SQL.

mod accounts;
mod checkpoint;
mod collection;
mod error;
mod migrate;
mod newsletter;
pub mod profile;
mod search;
mod sqlite;
mod stories;
mod time;

use chrono::{DateTime, Utc};
use serde::Serialize;
use threatdesk_model::{
    Bulletin, BulletinId, BulletinKind, BulletinStatus, ContentHash, Entity, Finding, FindingKind, Item,
    ItemId, NewBulletin, NewItem, NewSource, Source, SourceHealth, SourceId, StoryId, Tlp,
};

pub use accounts::{Accounts, ApiTokenInfo, BulletinComment, NewUser, StoryMark};
pub use collection::{CollectionProblem, CollectionRun, SeenEntry};
pub use error::{Result, StoreError};
pub use migrate::SCHEMA_VERSION;
pub use newsletter::{Mail, MailKind, NewSubscription, Newsletter};
pub use search::{ParsedQuery, Snippet};
pub use sqlite::{RANKED_MATCHES, SqliteStore};
pub use stories::{
    StoryAuditEntry, StoryDigest, StoryFacets, StoryFilter, StoryMember, StoryPlacement, StorySummary,
    StoryTarget,
};

/// See [`Store::publication_epoch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicationEpoch {
    /// Moves by at least one per change.
    pub value: i64,
    /// When it last moved (whole seconds).
    pub changed_at: DateTime<Utc>,
}

/// What storing one collected item did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum UpsertOutcome {
    /// A document the store had not seen: a new item.
    Inserted {
        /// The new item.
        id: ItemId,
    },
    /// The same document with the same content: nothing changed.
    Unchanged {
        /// The stored item.
        id: ItemId,
    },
    /// The same document with new content: the item was updated in place.
    Updated {
        /// The stored item.
        id: ItemId,
        /// The hash of the content it replaced.
        previous_hash: ContentHash,
    },
    /// Another document of the same source with identical content: not stored again.
    Duplicate {
        /// The item that already holds this content.
        of: ItemId,
    },
}

impl UpsertOutcome {
    /// The item that now holds the content.
    pub fn item_id(&self) -> ItemId {
        match self {
            UpsertOutcome::Inserted { id }
            | UpsertOutcome::Unchanged { id }
            | UpsertOutcome::Updated { id, .. } => *id,
            UpsertOutcome::Duplicate { of } => *of,
        }
    }
}

/// What listings and searches are restricted to; the default restricts nothing.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    /// Only items of these sources (all when empty; bulletins are unaffected).
    pub source_ids: Vec<SourceId>,
    /// Only documents dated at or after this time (items: published, else fetched;
    /// bulletins: published, else last saved).
    pub since: Option<DateTime<Utc>>,
    /// Only documents dated before this time.
    pub until: Option<DateTime<Utc>>,
    /// Only documents marked at most this restrictively.
    pub tlp_ceiling: Option<Tlp>,
}

/// Which items [`Store::list_items`] returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    /// Sources, dates and marking.
    pub documents: DocumentFilter,
    /// At most this many (default 50).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: u32,
}

/// An item without its text and HTML, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemSummary {
    /// The item.
    pub id: ItemId,
    /// Its source.
    pub source_id: SourceId,
    /// Its source's name.
    pub source_name: String,
    /// Its headline.
    pub title: String,
    /// Its identity.
    pub canonical_url: String,
    /// Its publication time, when known.
    pub published_at: Option<DateTime<Utc>>,
    /// When it was read.
    pub fetched_at: DateTime<Utc>,
    /// Its marking.
    pub tlp: Tlp,
    /// Length of its text in bytes.
    pub text_bytes: u64,
    /// How many times its content changed (1 for never).
    pub revision: u32,
}

/// What [`Store::search`] looks through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchScope {
    /// Items and bulletins.
    #[default]
    All,
    /// Collected items only.
    Items,
    /// Bulletins only.
    Bulletins,
}

/// A full-text search.
///
/// The query language, the same on every backend: words must all occur (`lazarus
/// crypto`); `"quoted words"` must occur as a phrase; `OR` between words or phrases
/// accepts either; a leading `-` excludes (`-test`); a trailing `*` matches a prefix
/// (`ransom*`). Words match stemmed and accent-folded (`attacks` finds `attack`).
/// Punctuated tokens such as `CVE-2021-44228` or `1.2.3.4` match as phrases.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The query text.
    pub text: String,
    /// Items, bulletins or both.
    pub scope: SearchScope,
    /// Only this kind of bulletin (items are unaffected).
    pub bulletin_kind: Option<BulletinKind>,
    /// Sources (items only), dates and marking.
    pub documents: DocumentFilter,
    /// At most this many hits (default 20).
    pub limit: Option<u32>,
    /// Skip this many first.
    pub offset: u32,
}

/// What a search hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// A collected item.
    Item,
    /// A bulletin.
    Bulletin,
}

/// One ranked search result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    /// Item or bulletin.
    pub kind: HitKind,
    /// Its id (an [`ItemId`] or a [`BulletinId`], per `kind`).
    pub id: i64,
    /// Its headline.
    pub title: String,
    /// A short passage around the matches.
    pub snippet: Snippet,
    /// BM25 relevance: higher is better (title matches weigh ten times body matches).
    pub score: f64,
    /// The item's source (items only).
    pub source_id: Option<SourceId>,
    /// Its date (see [`DocumentFilter::since`]).
    pub date: DateTime<Utc>,
    /// Its marking.
    pub tlp: Tlp,
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchResults {
    /// The hits, best first.
    pub hits: Vec<SearchHit>,
    /// How many documents match in all (ignoring `limit` and `offset`).
    pub total: u64,
}

/// Which bulletins [`Store::list_bulletins`] returns.
#[derive(Debug, Clone, Default)]
pub struct BulletinFilter {
    /// Only bulletins at this workflow step.
    pub status: Option<threatdesk_model::BulletinStatus>,
    /// Only bulletins marked at most this restrictively.
    pub tlp_ceiling: Option<Tlp>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

/// Store-wide counts, for `status` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StoreStats {
    /// The schema version of the database.
    pub schema_version: u32,
    /// Sources.
    pub sources: u64,
    /// Items.
    pub items: u64,
    /// Bulletins.
    pub bulletins: u64,
}

/// threatdesk's persistence API. Every method is one transaction.
pub trait Store: Send + Sync {
    /// Counts of what is stored.
    fn stats(&self) -> Result<StoreStats>;

    /// The source with this name, creating it from `spec` if there is none.
    fn ensure_source(&self, spec: &NewSource) -> Result<Source>;
    /// The source with this id.
    fn source(&self, id: SourceId) -> Result<Option<Source>>;
    /// The source with this name.
    fn source_by_name(&self, name: &str) -> Result<Option<Source>>;
    /// Every source, by name.
    fn list_sources(&self) -> Result<Vec<Source>>;
    /// Stores a new source; a name or (for feeds and web pages) an address already taken is
    /// [`StoreError::SourceExists`].
    fn add_source(&self, spec: &NewSource) -> Result<Source>;
    /// Replaces a source's settings (name, schedule, marking, tags, enabled…).
    fn update_source(&self, id: SourceId, spec: &NewSource) -> Result<Source>;
    /// Deletes a source with its state and problems. A source with items is refused
    /// ([`StoreError::SourceHasItems`]) unless `with_items`, which deletes them and their
    /// findings too. Returns the number of items deleted.
    fn remove_source(&self, id: SourceId, with_items: bool) -> Result<u64>;

    /// Every source with its collection health, by name.
    fn list_source_health(&self) -> Result<Vec<(Source, SourceHealth)>>;
    /// One source's collection health.
    fn source_health(&self, source: &Source) -> Result<SourceHealth>;
    /// Records one collection of a source in one transaction: its items with their
    /// findings (as [`Store::upsert_items_with_findings`]), the feed entries handled, the
    /// problems met, and the source's new state (validators, failures, next attempt).
    fn record_collection(
        &self,
        run: &CollectionRun,
        items: &[(NewItem, Vec<Finding>)],
        seen: &[SeenEntry],
    ) -> Result<Vec<UpsertOutcome>>;
    /// Of these feed-entry identities, those already handled, with the entry hash then.
    fn seen_entries(
        &self,
        source: SourceId,
        identities: &[String],
    ) -> Result<std::collections::HashMap<String, ContentHash>>;
    /// The latest problems met collecting a source, newest first.
    fn collection_problems(&self, source: SourceId, limit: u32) -> Result<Vec<CollectionProblem>>;

    /// Stores collected items in one transaction, deciding for each whether it is new,
    /// unchanged, updated or a duplicate (see [`UpsertOutcome`]). A document's identity
    /// is its source and canonical URL, else its source and GUID; identical content at
    /// another URL of the same source is a duplicate. Outcomes are in input order.
    fn upsert_items(&self, items: &[NewItem]) -> Result<Vec<UpsertOutcome>>;
    /// [`Store::upsert_items`], storing with each new or changed item what was extracted
    /// from it, in the same transaction: an item is never stored without its findings.
    /// Findings of unchanged items and duplicates are left as they are.
    fn upsert_items_with_findings(&self, items: &[(NewItem, Vec<Finding>)]) -> Result<Vec<UpsertOutcome>>;
    /// The item with this id.
    fn item(&self, id: ItemId) -> Result<Option<Item>>;
    /// Items matching the filter, newest first.
    fn list_items(&self, filter: &ItemFilter) -> Result<Vec<ItemSummary>>;

    /// Replaces everything extracted from an item with `findings` (their `item_id` is
    /// ignored): re-extraction after an update never leaves stale or duplicate findings.
    fn replace_findings(&self, item: ItemId, findings: &[Finding]) -> Result<()>;
    /// An item's findings, in text order.
    fn item_findings(&self, item: ItemId) -> Result<Vec<Finding>>;
    /// The items in which a value of this kind was found, most recent first.
    fn items_with_finding(&self, kind: FindingKind, value: &str) -> Result<Vec<ItemId>>;

    /// Stores where clustering put each item (creating stories as needed), with its reasons
    /// and features, in one transaction. Items an analyst placed are left where they are.
    /// Returns each item's story.
    fn place_items(&self, placements: &[StoryPlacement]) -> Result<Vec<StoryId>>;
    /// Sets stories' titles, summaries and hotness, in one transaction.
    fn set_story_digests(&self, digests: &[StoryDigest]) -> Result<()>;
    /// Stories, newest (or hottest) first.
    fn list_stories(&self, filter: &StoryFilter) -> Result<Vec<StorySummary>>;
    /// One story.
    fn story(&self, id: StoryId) -> Result<Option<StorySummary>>;
    /// A story's items, oldest first, with why each is there.
    fn story_members(&self, id: StoryId) -> Result<Vec<StoryMember>>;
    /// Each story's sources and entity names, from roll-ups kept with every change: a
    /// listing reads each story's own rows, not its members' findings. A story that does
    /// not exist has empty facets.
    fn story_facets(&self, ids: &[StoryId]) -> Result<Vec<(StoryId, StoryFacets)>>;
    /// Moves every item of `from` into `into` (pinned), records it, and removes `from`.
    fn merge_stories(&self, from: StoryId, into: StoryId, actor: &str) -> Result<u64>;
    /// Moves items to a story, or to a new one (`None`), pinned; `action` (`move`, `split`)
    /// names the change in the audit trail. Returns the target story.
    fn move_to_story(
        &self,
        items: &[ItemId],
        to: Option<StoryId>,
        actor: &str,
        action: &str,
    ) -> Result<StoryId>;
    /// The analysts' changes that concern a story, oldest first.
    fn story_audit(&self, id: StoryId) -> Result<Vec<StoryAuditEntry>>;
    /// The clustering features of items dated from `since` to `until` (both included), with
    /// their story, oldest first.
    fn clustered_between(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<(ItemId, StoryId, Vec<u8>)>>;
    /// The story an item is in.
    fn story_of_item(&self, item: ItemId) -> Result<Option<StoryId>>;
    /// Items in no story yet, oldest first.
    fn unclustered_items(&self, limit: u32) -> Result<Vec<ItemId>>;

    /// The stored knowledge base, by id; `None` when nothing was ever imported (callers then
    /// use the built-in one).
    fn knowledge_base(&self) -> Result<Option<Vec<Entity>>>;
    /// Replaces the stored knowledge base with `entities` (ids kept) in one transaction.
    fn replace_knowledge_base(&self, entities: &[Entity]) -> Result<()>;

    /// Saves a new bulletin as a draft, version 1.
    fn create_bulletin(&self, bulletin: &NewBulletin) -> Result<Bulletin>;
    /// Saves an edit as the next version. `expected_version` is the version the editor
    /// started from; if someone saved in between, the edit is refused with
    /// [`StoreError::VersionConflict`] instead of silently overwriting theirs.
    fn update_bulletin(
        &self,
        id: BulletinId,
        content: &NewBulletin,
        expected_version: u32,
    ) -> Result<Bulletin>;
    /// Moves a bulletin through review (see [`BulletinStatus::transition_to`]).
    fn set_bulletin_status(&self, id: BulletinId, status: BulletinStatus) -> Result<Bulletin>;
    /// The bulletin with this id, at its latest version.
    fn bulletin(&self, id: BulletinId) -> Result<Option<Bulletin>>;
    /// Every saved version of a bulletin, oldest first.
    fn bulletin_versions(&self, id: BulletinId) -> Result<Vec<Bulletin>>;
    /// Bulletins, most recently saved first.
    fn list_bulletins(&self, filter: &BulletinFilter) -> Result<Vec<Bulletin>>;
    /// The counter of changes to what the public site shows, and when it last moved. It
    /// moves in the same transaction as any change to a bulletin, its tags or links, or the
    /// marking, title or address of an item: a response rendered while it read `n` is
    /// current for as long as it still reads `n`.
    fn publication_epoch(&self) -> Result<PublicationEpoch>;

    /// Ranked full-text search over items and bulletins.
    fn search(&self, query: &SearchQuery) -> Result<SearchResults>;
}
