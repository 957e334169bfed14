//! `threatdesk stories …`, and the clustering that `ingest` and `collect` run on every new item.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use rayon::prelude::*;
use serde::Serialize;
use threatdesk_cluster::{
    Assignment, ClusterConfig, ItemFeatures, Sketch, StoryIndex, feature_key, hotness, lead, summarize,
};
use threatdesk_embed::MiniLm;
use threatdesk_model::{Finding, FindingKind, Item, ItemId, StoryId};
use threatdesk_store::{Store, StoryDigest, StoryFilter, StoryMember, StoryPlacement, StoryTarget};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs, StoriesListArgs};
use crate::config::{Config, DataDir, EmbeddingsConfig};
use crate::output::{print_json, short_time, truncate};

/// The analyst recorded in the audit trail for CLI changes.
fn actor() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .map(|u| format!("cli:{u}"))
        .unwrap_or_else(|_| "cli".to_owned())
}

/// Items read from the clustering queue per placement pass of [`Clusterer::cluster_pending`].
const BATCH: u32 = 500;
/// Stories whose digests wait for a refresh at most: a long ingest refreshes them as it
/// goes, and each story once per this many changed stories however often it grew.
const DIGEST_BATCH: usize = 4_096;
/// Items whose texts feed a story's summary.
const SUMMARY_ITEMS: usize = 12;

/// What a clustering pass did.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub(crate) struct ClusterReport {
    /// Items placed.
    pub clustered: u64,
    /// Of those, in new stories.
    pub new_stories: u64,
    /// Of those, near-duplicates of an item already stored.
    pub near_duplicates: u64,
}

impl ClusterReport {
    pub(crate) fn add(&mut self, other: ClusterReport) {
        self.clustered += other.clustered;
        self.new_stories += other.new_stories;
        self.near_duplicates += other.near_duplicates;
    }
}

/// The story index of a data folder, rebuilt from the stored features of recent items,
/// with the sentence-embedding model when there is one.
pub(crate) struct Clusterer {
    index: StoryIndex,
    config: ClusterConfig,
    /// The dates whose stored items the index was loaded with. Items placed since are in it
    /// too; when an item comes whose window reaches outside these dates, the index is
    /// reloaded around it, and what it held before is left on disk. Memory is bounded by
    /// the items of four clustering windows, however long the process runs or however
    /// many items one ingest brings.
    coverage: (DateTime<Utc>, DateTime<Utc>),
    embedder: Option<MiniLm>,
    /// Texts embedded per model call.
    batch: usize,
    /// Sources' reliability weights, read once per run instead of once per story member.
    reliability: HashMap<threatdesk_model::SourceId, f64>,
    /// Stories whose digests are out of date (see [`Clusterer::refresh_changed`]).
    changed: BTreeSet<StoryId>,
}

/// Bytes of an item's lead given to the embedding model (it reads `max_tokens` tokens;
/// cutting first saves tokenising whole reports).
const EMBEDDED_TEXT_BYTES: usize = 2_000;

/// The embedding model of a data folder: `embeddings.model_dir`, else
/// `DATA/models/all-minilm-l6-v2`. Returns the model (if any) and a line saying which
/// similarity clustering uses, for `status` and warnings.
pub(crate) fn embedding_model(data: &DataDir, config: &EmbeddingsConfig) -> (Option<MiniLm>, String) {
    if !config.enabled {
        return (None, "lexical only (embeddings.enabled = false)".to_owned());
    }
    let folder = if config.model_dir.trim().is_empty() {
        data.root().join("models").join("all-minilm-l6-v2")
    } else {
        std::path::PathBuf::from(config.model_dir.trim())
    };
    if !threatdesk_embed::looks_like_model(&folder) && config.model_dir.trim().is_empty() {
        return (
            None,
            format!(
                "lexical only: no embedding model in {} (scripts/get-model.sh {} fetches all-MiniLM-L6-v2)",
                folder.display(),
                folder.display()
            ),
        );
    }
    match MiniLm::load(&folder, config.max_tokens) {
        Ok(model) => (
            Some(model),
            format!(
                "lexical and sentence embeddings (all-MiniLM-L6-v2 from {})",
                folder.display()
            ),
        ),
        Err(error) => {
            tracing::warn!(%error, "The embedding model cannot be used; clustering falls back to lexical similarity");
            (
                None,
                format!("lexical only: the embedding model cannot be used ({error})"),
            )
        }
    }
}

impl Clusterer {
    /// The clusterer of a data folder, with its embedding model if one is there.
    pub(crate) fn open(store: &dyn Store, data: &DataDir, config: &Config) -> anyhow::Result<Self> {
        let (embedder, _) = embedding_model(data, &config.embeddings);
        let mut clusterer = Self::load(store, config.cluster.clone())?;
        clusterer.embedder = embedder;
        clusterer.batch = config.embeddings.batch_size.max(1);
        Ok(clusterer)
    }

    /// Loads the features of the items around today (no embedding model).
    pub(crate) fn load(store: &dyn Store, config: ClusterConfig) -> anyhow::Result<Self> {
        let mut clusterer = Self {
            index: StoryIndex::new(config.clone()),
            config,
            coverage: (Utc::now(), Utc::now()),
            embedder: None,
            batch: 32,
            reliability: HashMap::new(),
            changed: BTreeSet::new(),
        };
        clusterer.reload_around(store, Utc::now())?;
        Ok(clusterer)
    }

    fn window(&self) -> Duration {
        Duration::days(i64::from(self.config.window_days.max(1)))
    }

    /// Replaces the index with the stored items dated within two windows of `date`.
    fn reload_around(&mut self, store: &dyn Store, date: DateTime<Utc>) -> anyhow::Result<()> {
        let reach = self.window() * 2;
        let coverage = (date - reach, date + reach);
        let mut index = StoryIndex::new(self.config.clone());
        let mut unreadable = 0usize;
        for (item, story, bytes) in store.clustered_between(coverage.0, coverage.1)? {
            match ItemFeatures::decode(&bytes) {
                Some(features) if features.item == item => index.insert(features, story),
                _ => unreadable += 1,
            }
        }
        if unreadable > 0 {
            tracing::warn!(
                unreadable,
                "Some stored clustering features could not be read; those items are left out of the index"
            );
        }
        tracing::debug!(items = index.len(), from = %coverage.0, to = %coverage.1, "story index loaded");
        self.index = index;
        self.coverage = coverage;
        Ok(())
    }

    /// Whether the index lacks stored items an item dated `date` may be compared with:
    /// those within one window of it. The caller counts dates in the future as now, so that
    /// a feed's wrong clock cannot make the index swing back and forth.
    fn needs_reload(&self, date: DateTime<Utc>) -> bool {
        let window = self.window();
        date - window < self.coverage.0 || date + window > self.coverage.1
    }

    /// Sets each item's embedding, a batch at a time; without a model, nothing.
    fn embed(&self, items: &mut [Pending]) {
        let Some(model) = &self.embedder else {
            return;
        };
        // Items with too little prose keep no embedding (see `lead`).
        let mut leads: Vec<(usize, &str)> = items
            .iter()
            .enumerate()
            .filter_map(|(i, pending)| pending.lead.as_deref().map(|l| (i, l)))
            .collect();
        let mut vectors_of: Vec<(usize, Vec<f32>)> = Vec::with_capacity(leads.len());
        for chunk in leads.chunks_mut(self.batch) {
            let refs: Vec<&str> = chunk.iter().map(|(_, l)| *l).collect();
            match model.embed(&refs) {
                Ok(vectors) => vectors_of.extend(chunk.iter().map(|(i, _)| *i).zip(vectors)),
                Err(error) => tracing::warn!(
                    %error,
                    "Embedding failed for a batch; those items are placed on lexical similarity"
                ),
            }
        }
        for (i, vector) in vectors_of {
            items[i].features.embedding = vector;
        }
    }

    /// Places every item that is in no story yet, and refreshes the digests of the stories
    /// that changed.
    pub(crate) fn cluster_pending(&mut self, store: &dyn Store) -> anyhow::Result<ClusterReport> {
        let mut report = ClusterReport::default();
        loop {
            let pending = store.unclustered_items(BATCH)?;
            if pending.is_empty() {
                break;
            }
            let mut batch = Vec::with_capacity(pending.len());
            for id in pending {
                let Some(item) = store.item(id)? else {
                    continue;
                };
                let findings = store.item_findings(id)?;
                batch.push(Pending::of(&item, &findings));
            }
            if batch.is_empty() {
                break;
            }
            report.add(self.place(store, batch)?);
        }
        self.refresh_changed(store)?;
        Ok(report)
    }

    /// Places a batch of stored items (in one transaction per index reload, normally one).
    /// An item already placed is placed again. The digests of the stories that changed are
    /// refreshed every [`DIGEST_BATCH`] stories and by [`Clusterer::refresh_changed`].
    pub(crate) fn place(
        &mut self,
        store: &dyn Store,
        mut batch: Vec<Pending>,
    ) -> anyhow::Result<ClusterReport> {
        let mut report = ClusterReport::default();
        // The queue is in storage order; stories grow in the order things happened.
        batch.sort_by_key(|pending| (pending.at, pending.features.item));
        self.embed(&mut batch);
        let mut placements = Placements::default();
        for pending in batch {
            let date = pending.at.min(Utc::now());
            if self.needs_reload(date) {
                // What this batch placed so far must be stored before the index is read back.
                placements.store(store, &mut self.index)?;
                self.reload_around(store, date)?;
            }
            let assignment = self.index.assign(&pending.features);
            let story = placements.push(&pending, &assignment)?;
            report.clustered += 1;
            report.new_stories += u64::from(assignment.story.is_none());
            report.near_duplicates += u64::from(assignment.near_duplicate_of.is_some());
            self.index.insert(pending.features, story);
        }
        placements.store(store, &mut self.index)?;
        self.changed.append(&mut placements.touched);
        if self.changed.len() >= DIGEST_BATCH {
            self.refresh_changed(store)?;
        }
        Ok(report)
    }

    /// Refreshes the digests of the stories placements changed since the last refresh:
    /// once per story however many batches added to it.
    pub(crate) fn refresh_changed(&mut self, store: &dyn Store) -> anyhow::Result<()> {
        let changed = std::mem::take(&mut self.changed);
        self.refresh_digests(store, &changed)
    }

    /// Recomputes the title, summary and hotness of each story (on every core) and stores
    /// them in one transaction.
    fn refresh_digests(&mut self, store: &dyn Store, stories: &BTreeSet<StoryId>) -> anyhow::Result<()> {
        let known = std::sync::Mutex::new(std::mem::take(&mut self.reliability));
        // The index is not shared between threads: its answers are read first.
        let stories: Vec<(StoryId, Option<ItemId>)> = stories
            .iter()
            .map(|&story| (story, self.index.representative(story)))
            .collect();
        let digests: anyhow::Result<Vec<Option<StoryDigest>>> = stories
            .par_iter()
            .map(|&(story, representative)| digest_of(store, representative, &known, story))
            .collect();
        self.reliability = known
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let digests: Vec<StoryDigest> = digests?.into_iter().flatten().collect();
        store.set_story_digests(&digests)?;
        Ok(())
    }
}

/// A stored item waiting for its story, with what clustering needs of it. Built where the
/// item's text is at hand (on the reading threads during an ingest), so that placing it
/// reads nothing back.
#[derive(Debug, Clone)]
pub(crate) struct Pending {
    /// Published, else collected.
    pub at: DateTime<Utc>,
    /// The title of a story it starts.
    pub title: String,
    /// What the embedding model reads, if the item has enough prose.
    pub lead: Option<String>,
    /// Its clustering features; `features.item` is the stored item's id.
    pub features: ItemFeatures,
}

impl Pending {
    /// What clustering needs of a stored item.
    pub(crate) fn of(item: &Item, findings: &[Finding]) -> Self {
        let mut pending = Self::of_new(&item.content, findings);
        pending.features.item = item.id;
        pending
    }

    /// The same for an item not stored yet (its id is set once it is).
    pub(crate) fn of_new(content: &threatdesk_model::NewItem, findings: &[Finding]) -> Self {
        let at = content.published_at.unwrap_or(content.fetched_at);
        Self {
            at,
            title: content.title.clone(),
            lead: lead(&content.title, &content.text, EMBEDDED_TEXT_BYTES),
            features: features_from(
                ItemId(0),
                content.source_id,
                at.timestamp_millis(),
                (&content.title, &content.text),
                &content.canonical_url,
                findings,
            ),
        }
    }
}

/// Placements decided but not stored yet. Stories they start are known to the index by
/// provisional (negative) ids until the store gives them theirs.
#[derive(Default)]
struct Placements {
    placements: Vec<StoryPlacement>,
    /// Provisional story → position of the placement that starts it.
    started: HashMap<StoryId, usize>,
    /// Stories changed by what was stored, for their digests.
    touched: BTreeSet<StoryId>,
    next_provisional: i64,
}

impl Placements {
    /// Records where an item goes; returns the story the index should put it in.
    fn push(&mut self, pending: &Pending, assignment: &Assignment) -> anyhow::Result<StoryId> {
        let (target, story) = match assignment.story {
            Some(story) => match self.started.get(&story) {
                Some(&position) => (StoryTarget::SameAs(position), story),
                None => (StoryTarget::Existing(story), story),
            },
            None => {
                self.next_provisional -= 1;
                let provisional = StoryId(self.next_provisional);
                self.started.insert(provisional, self.placements.len());
                (StoryTarget::New, provisional)
            }
        };
        self.placements.push(StoryPlacement {
            item: pending.features.item,
            story: target,
            new_title: pending.title.clone(),
            score: f64::from(assignment.score),
            reasons: serde_json::to_string(&assignment.signals)?,
            near_duplicate_of: assignment.near_duplicate_of,
            features: pending.features.encode(),
        });
        Ok(story)
    }

    /// Stores the placements in one transaction and gives the index the stored stories:
    /// provisional ids become real ones, and an item an analyst keeps elsewhere goes back
    /// where the store says it is.
    fn store(&mut self, store: &dyn Store, index: &mut StoryIndex) -> anyhow::Result<()> {
        if self.placements.is_empty() {
            return Ok(());
        }
        let stories = store.place_items(&self.placements)?;
        anyhow::ensure!(
            stories.len() == self.placements.len(),
            "the store placed {} of {} items",
            stories.len(),
            self.placements.len()
        );
        for (placement, &actual) in self.placements.iter().zip(&stories) {
            if let Some(current) = index.story_of(placement.item).filter(|story| story.0 < 0) {
                index.rename_story(current, actual);
            }
            if index.story_of(placement.item) != Some(actual) {
                index.move_item(placement.item, actual);
            }
            self.touched.insert(actual);
        }
        self.placements.clear();
        self.started.clear();
        Ok(())
    }
}

/// What clustering takes from an item: its sketch, the specific entities it mentions
/// (actors, malware, campaigns, CVEs: tools, places and sectors are shared by too many
/// unrelated events) and its non-benign indicators; from its id, source, date, title and
/// text, address and findings.
pub(crate) fn features_from(
    item: ItemId,
    source: threatdesk_model::SourceId,
    at_millis: i64,
    (title, text): (&str, &str),
    canonical_url: &str,
    findings: &[Finding],
) -> ItemFeatures {
    let own_site = site_of_url(canonical_url);
    let mut entities = BTreeSet::new();
    let mut indicators = BTreeSet::new();
    for f in findings {
        match f.kind {
            FindingKind::EntityMention => {
                let specific = f.flags.iter().any(|flag| {
                    matches!(
                        flag.as_str(),
                        "entity:threat_actor" | "entity:malware" | "entity:campaign" | "entity:vulnerability"
                    )
                });
                if specific {
                    entities.insert(feature_key("entity", &f.value));
                }
            }
            FindingKind::Cve => {
                entities.insert(feature_key("cve", &f.value));
            }
            _ if f.is_benign() => {}
            // Addresses, hashes and wallets are evidence wherever they appear.
            FindingKind::Ipv4
            | FindingKind::Ipv6
            | FindingKind::Md5
            | FindingKind::Sha1
            | FindingKind::Sha256
            | FindingKind::Sha512
            | FindingKind::BitcoinAddress
            | FindingKind::EthereumAddress
            | FindingKind::MoneroAddress
            | FindingKind::OnionAddress => {
                indicators.insert(feature_key(f.kind.as_str(), &f.value));
            }
            // Domains, URLs and e-mail addresses are mostly links (a publisher's site, its
            // social accounts): they count when defanged, as reports write indicators, and
            // never when they point at the publisher's own site.
            FindingKind::Domain | FindingKind::Url | FindingKind::Email
                if f.flags.iter().any(|flag| flag == "defanged") =>
            {
                let host_site = match f.kind {
                    FindingKind::Domain => site_of_host(&f.value),
                    FindingKind::Url => site_of_url(&f.value),
                    _ => f.value.rsplit_once('@').and_then(|(_, host)| site_of_host(host)),
                };
                if own_site.is_none() || host_site != own_site {
                    indicators.insert(feature_key(f.kind.as_str(), &f.value));
                }
            }
            _ => {}
        }
    }
    ItemFeatures {
        item,
        source,
        at_millis,
        sketch: Sketch::of(title, text),
        entities: entities.into_iter().collect(),
        indicators: indicators.into_iter().collect(),
        embedding: Vec::new(),
    }
}

/// The site a URL belongs to (see [`site_of_host`]); `None` for other schemes.
fn site_of_url(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !matches!(scheme, "http" | "https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    site_of_host(host.split(':').next()?)
}

/// A host's site: its last two labels, or three under a short second-level label
/// (`bbc.co.uk`): close enough to the registrable domain to tell a publisher's own links.
fn site_of_host(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    let keep = match labels.as_slice() {
        [.., second, tld] if tld.len() == 2 && second.len() <= 3 && labels.len() >= 3 => 3,
        _ => 2,
    };
    (labels.len() >= 2).then(|| labels[labels.len().saturating_sub(keep)..].join("."))
}

/// Title (the headline of the item nearest the centroid), summary and hotness of a story;
/// `None` if it has no items left.
fn digest_of(
    store: &dyn Store,
    representative: Option<ItemId>,
    known: &std::sync::Mutex<HashMap<threatdesk_model::SourceId, f64>>,
    story: StoryId,
) -> anyhow::Result<Option<StoryDigest>> {
    let members = store.story_members(story)?;
    if members.is_empty() {
        return Ok(None);
    }
    let title = members
        .iter()
        .find(|m| Some(m.item) == representative)
        .or(members.first())
        .map(|m| m.title.clone())
        .unwrap_or_default();
    let mut texts = Vec::new();
    for member in members
        .iter()
        .filter(|m| m.near_duplicate_of.is_none())
        .take(SUMMARY_ITEMS)
    {
        if let Some(item) = store.item(member.item)? {
            texts.push(item.content.text);
        }
    }
    let summary = summarize(&texts.iter().map(String::as_str).collect::<Vec<_>>(), 3);
    let mut reliability: HashMap<threatdesk_model::SourceId, f64> = HashMap::new();
    for member in &members {
        let cached = known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&member.source_id)
            .copied();
        let weight = match cached {
            Some(weight) => Some(weight),
            None => {
                let weight = store
                    .source(member.source_id)?
                    .map(|s| s.spec.reliability.weight());
                if let Some(weight) = weight {
                    known
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(member.source_id, weight);
                }
                weight
            }
        };
        if let Some(weight) = weight {
            reliability.insert(member.source_id, weight);
        }
    }
    let last_seen = members.iter().map(|m| m.date).max().unwrap_or_else(Utc::now);
    let hours = (Utc::now() - last_seen).num_minutes() as f64 / 60.0;
    let weights: Vec<f64> = reliability.into_values().collect();
    Ok(Some(StoryDigest {
        story,
        title,
        summary,
        hotness: hotness(&weights, hours),
    }))
}

/// `stories cluster`: places every item not yet in a story.
pub fn cluster(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let mut clusterer = Clusterer::open(&store, data, &data.load_config()?)?;
    let started = std::time::Instant::now();
    let report = clusterer.cluster_pending(&store)?;
    if global.format == Format::Text {
        crate::outln!(
            "Clustered {} item(s): {} in new stories, {} near-duplicate(s) ({:.2} s).",
            report.clustered,
            report.new_stories,
            report.near_duplicates,
            started.elapsed().as_secs_f64()
        );
    } else {
        print_json(&report)?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// `stories list`.
pub fn list(data: &DataDir, global: &GlobalArgs, args: &StoriesListArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let stories = store.list_stories(&StoryFilter {
        since: args.since,
        by_hotness: args.hot,
        tlp_ceiling: args.tlp_max,
        limit: Some(args.limit),
    })?;
    if global.format != Format::Text {
        print_json(&stories)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    if stories.is_empty() {
        crate::outln!("No stories yet: `threatdesk collect` or `threatdesk ingest` makes them.");
    }
    for s in &stories {
        crate::outln!(
            "{:>5}  {}  {:>3} item(s) {:>3} source(s)  hot {:>5.2}  {}",
            s.id,
            short_time(s.last_seen),
            s.items,
            s.sources,
            s.hotness,
            truncate(&s.title, 90)
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[derive(Serialize)]
struct StoryDetail {
    #[serde(flatten)]
    story: threatdesk_store::StorySummary,
    members: Vec<StoryMember>,
    /// Entities mentioned across its items: canonical name → items mentioning it.
    entities: BTreeMap<String, u32>,
    /// Indicators across its items (benign ones left out): `kind:value` → items.
    indicators: BTreeMap<String, u32>,
    audit: Vec<threatdesk_store::StoryAuditEntry>,
}

/// `stories show ID`.
pub fn show(data: &DataDir, global: &GlobalArgs, id: StoryId) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let story = store
        .story(id)?
        .with_context(|| format!("no story {id} (see `threatdesk stories list`)"))?;
    let members = store.story_members(id)?;
    let mut entities = BTreeMap::new();
    let mut indicators = BTreeMap::new();
    for member in &members {
        let mut seen = BTreeSet::new();
        for f in store.item_findings(member.item)? {
            let key = if f.kind == FindingKind::EntityMention {
                f.value.clone()
            } else if f.is_benign() {
                continue;
            } else {
                format!("{}:{}", f.kind.as_str(), f.value)
            };
            if seen.insert(key.clone()) {
                let map = if f.kind == FindingKind::EntityMention {
                    &mut entities
                } else {
                    &mut indicators
                };
                *map.entry(key).or_insert(0u32) += 1;
            }
        }
    }
    let detail = StoryDetail {
        story,
        members,
        entities,
        indicators,
        audit: store.story_audit(id)?,
    };
    if global.format != Format::Text {
        print_json(&detail)?;
        return Ok(ExitCode::from(EXIT_OK));
    }
    let s = &detail.story;
    crate::outln!("Story {}: {}", s.id, s.title);
    crate::outln!(
        "{} item(s) from {} source(s), {} – {}, hotness {:.2}, {}",
        s.items,
        s.sources,
        short_time(s.first_seen),
        short_time(s.last_seen),
        s.hotness,
        s.tlp
    );
    if !s.summary.is_empty() {
        crate::outln!("\n{}", s.summary);
    }
    crate::outln!("\nItems:");
    for m in &detail.members {
        let why = m
            .reasons
            .as_array()
            .and_then(|r| r.first())
            .and_then(|r| r["detail"].as_str())
            .unwrap_or("first item");
        crate::outln!(
            "  {:>5}  {}  {:<20}  {}{}",
            m.item,
            short_time(m.date),
            truncate(&m.source_name, 20),
            truncate(&m.title, 70),
            if m.pinned { "  [placed by an analyst]" } else { "" }
        );
        crate::outln!("         why: {why}");
    }
    let top = |map: &BTreeMap<String, u32>| {
        let mut v: Vec<(&String, &u32)> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .take(15)
            .map(|(k, n)| format!("{k} ({n})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !detail.entities.is_empty() {
        crate::outln!("\nEntities: {}", top(&detail.entities));
    }
    if !detail.indicators.is_empty() {
        crate::outln!("Indicators: {}", top(&detail.indicators));
    }
    for a in &detail.audit {
        crate::outln!(
            "Audit: {} {} {} {}",
            short_time(a.at),
            a.actor,
            a.action,
            a.detail
        );
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn after_change(data: &DataDir, store: &dyn Store, stories: &[StoryId]) -> anyhow::Result<()> {
    let mut clusterer = Clusterer::load(store, data.load_config()?.cluster)?;
    let mut existing = BTreeSet::new();
    for &story in stories {
        if store.story(story)?.is_some() {
            existing.insert(story);
        }
    }
    clusterer.refresh_digests(store, &existing)
}

/// `stories merge FROM INTO`.
pub fn merge(data: &DataDir, global: &GlobalArgs, from: StoryId, into: StoryId) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let moved = store.merge_stories(from, into, &actor())?;
    after_change(data, &store, &[into])?;
    report_change(
        global,
        &format!("Merged story {from} into {into} ({moved} item(s))."),
        into,
    )
}

/// `stories move ITEM… --to STORY | --new`.
pub fn move_items(
    data: &DataDir,
    global: &GlobalArgs,
    items: &[ItemId],
    to: Option<StoryId>,
    action: &str,
) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let mut changed = Vec::new();
    for &item in items {
        changed.extend(store.story_of_item(item)?);
    }
    let target = store.move_to_story(items, to, &actor(), action)?;
    changed.push(target);
    after_change(data, &store, &changed)?;
    report_change(
        global,
        &format!("Moved {} item(s) to story {target}.", items.len()),
        target,
    )
}

fn report_change(global: &GlobalArgs, message: &str, story: StoryId) -> anyhow::Result<ExitCode> {
    if global.format == Format::Text {
        crate::outln!("{message}");
    } else {
        print_json(&serde_json::json!({"story": story, "message": message}))?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_are_the_registrable_part_of_hosts() {
        assert_eq!(
            site_of_url("https://www.Vendor.com/blog/post?id=1").as_deref(),
            Some("vendor.com")
        );
        assert_eq!(
            site_of_url("http://user@news.bbc.co.uk:8080/x").as_deref(),
            Some("bbc.co.uk")
        );
        assert_eq!(site_of_url("file:///tmp/report.txt"), None);
        assert_eq!(site_of_host("evil.example.net").as_deref(), Some("example.net"));
        assert_eq!(site_of_host("localhost"), None);
    }

    fn report(
        source: &threatdesk_model::Source,
        number: u32,
        date: DateTime<Utc>,
        text: &str,
    ) -> threatdesk_model::NewItem {
        let title = format!("Report {number}");
        threatdesk_model::NewItem {
            source_id: source.id,
            canonical_url: format!("file:///reports/{number}.txt"),
            original_url: None,
            guid: None,
            title: title.clone(),
            author: None,
            published_at: Some(date),
            fetched_at: date,
            language: Some("eng".to_owned()),
            text: text.to_owned(),
            html: None,
            content_hash: threatdesk_text::content_hash(&title, text),
            tlp: threatdesk_model::Tlp::Clear,
        }
    }

    /// Words of its own for every report: unrelated events.
    fn prose(number: u32) -> String {
        (0..80).map(|k| format!("w{number}x{k} ")).collect()
    }

    #[test]
    fn the_story_index_keeps_only_the_items_near_the_one_being_placed() {
        let dir = tempfile::tempdir().expect("temporary folder");
        let store = threatdesk_store::SqliteStore::open(dir.path().join("threatdesk.db")).expect("store");
        let source = store
            .ensure_source(&threatdesk_model::NewSource::new(
                "reports",
                threatdesk_model::SourceKind::File,
                "/reports",
            ))
            .expect("source");
        let start = Utc::now() - Duration::days(200);
        // A report a day for 120 days, then a second report on the first day's event.
        let mut items: Vec<_> = (0..120)
            .map(|day| report(&source, day, start + Duration::days(i64::from(day)), &prose(day)))
            .collect();
        let retelling = format!("{} and more", prose(0));
        items.push(report(&source, 500, start + Duration::hours(30), &retelling));
        let ids: Vec<ItemId> = store
            .upsert_items(&items)
            .expect("items")
            .iter()
            .map(threatdesk_store::UpsertOutcome::item_id)
            .collect();

        let config = ClusterConfig::default();
        let window = i64::from(config.window_days);
        let mut clusterer = Clusterer::load(&store, config).expect("clusterer");
        assert!(clusterer.index.is_empty(), "nothing stored is dated near today");
        let report = clusterer.cluster_pending(&store).expect("clustered");
        assert_eq!(report.clustered, 121);

        // Only the reports within two windows of the last one are held; the rest is on disk.
        assert!(
            clusterer.index.len() as i64 <= 4 * window + 1,
            "{} items held",
            clusterer.index.len()
        );
        assert!(clusterer.index.len() as i64 >= window);
        let story_of = |index: usize| store.story_of_item(ids[index]).expect("story").expect("placed");
        assert_eq!(
            story_of(0),
            story_of(120),
            "the retelling joined the first report's story"
        );
        assert_ne!(story_of(0), story_of(1));
    }
}
