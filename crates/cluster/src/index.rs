//! The in-memory story index: every clustered item's sketch, an LSH table for
//! near-duplicates, an inverted index for lexical similarity, and each story's running
//! centroid, entities and indicators. It decides where a new item goes
//! ([`StoryIndex::assign`]) and explains why; the caller stores the decision and then
//! records it here ([`StoryIndex::insert`]).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// Keys here are hashes or small ids already: a multiply-and-mix beats SipHash by far.
#[derive(Debug, Default, Clone, Copy)]
struct MixHasher(u64);

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = mix(self.0 ^ n);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<MixHasher>>;
type FastSet<K> = HashSet<K, BuildHasherDefault<MixHasher>>;

use serde::{Deserialize, Serialize};
use threatdesk_model::{ItemId, SourceId, StoryId};

use crate::sketch::{MINHASH_SIZE, Sketch, mix};

/// LSH bands × rows = [`MINHASH_SIZE`]; 16 × 8 finds pairs above a Jaccard of about 0.7
/// with high probability ((1/16)^(1/8) ≈ 0.71).
const BANDS: usize = 16;
const ROWS: usize = MINHASH_SIZE / BANDS;
/// Per term, entity or indicator, only this many of the latest items are looked at: the
/// cost of an assignment stays bounded however common a word is, and recent items are the
/// ones whose stories are still open.
const MAX_POSTINGS_SCANNED: usize = 1024;
/// A new item is compared through its this-many highest-weighted terms: the rare words
/// that tell one event from another; common words would only cost time.
const QUERY_TERMS: usize = 24;
/// An indicator found in more items than this is infrastructure everybody links to (a
/// vendor's site, a social network, a CDN), not evidence of one event.
const MAX_INDICATOR_ITEMS: u32 = 3;

/// Thresholds and weights of story assignment (`[cluster]` in the configuration).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// Estimated shingle Jaccard at or above which an item is a near-duplicate.
    pub near_duplicate_jaccard: f32,
    /// Score at or above which an item joins a story.
    pub join_threshold: f32,
    /// Items with fewer words are "short": they need `short_join_threshold`.
    pub short_text_words: u32,
    /// The join threshold for short items (a title and a line say little).
    pub short_join_threshold: f32,
    /// Only stories seen within this many days take new items.
    pub window_days: u32,
    /// Score added per shared specific entity (actor, malware, tool, campaign, CVE), at most two.
    pub entity_weight: f32,
    /// Score added per shared indicator (hash, IP, domain, URL), at most two.
    pub indicator_weight: f32,
    /// For items that are not short, entities and indicators count only when the texts
    /// share at least this cosine: two unrelated reports of one vendor share its links.
    pub evidence_min_text: f32,
    /// Embedding cosine that counts as no similarity at all: reports on unrelated events in
    /// one field still score 0.3–0.5 with a general-purpose sentence model. Above it, the
    /// cosine is rescaled to 0–1 and competes with the lexical cosine (the larger counts).
    pub embedding_floor: f32,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            near_duplicate_jaccard: 0.7,
            join_threshold: 0.45,
            short_text_words: 60,
            short_join_threshold: 0.75,
            window_days: 7,
            entity_weight: 0.1,
            indicator_weight: 0.15,
            evidence_min_text: 0.15,
            embedding_floor: 0.6,
        }
    }
}

/// What clustering needs to know of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemFeatures {
    /// The item.
    pub item: ItemId,
    /// Its source.
    pub source: SourceId,
    /// Published, else collected (milliseconds since the epoch, UTC).
    pub at_millis: i64,
    /// Its sketch.
    pub sketch: Sketch,
    /// Keys of the specific entities it mentions (actors, malware, tools, campaigns, CVEs).
    pub entities: Vec<u64>,
    /// Keys of the non-benign indicators it contains.
    pub indicators: Vec<u64>,
    /// Its unit-length sentence embedding; empty without a model.
    #[serde(default)]
    pub embedding: Vec<f32>,
}

/// A hashed key for an entity or indicator value (stable across runs).
pub fn feature_key(kind: &str, value: &str) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for b in kind.bytes().chain([0u8]).chain(value.to_lowercase().bytes()) {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    mix(hash)
}

/// One reason for a decision, with its weight in the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// `near_duplicate`, `text`, `entities` or `indicators`.
    pub kind: String,
    /// Its contribution (for `near_duplicate`: the estimated Jaccard).
    pub value: f32,
    /// In words.
    pub detail: String,
}

/// Where an item goes, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    /// The story to join; `None` starts a new story.
    pub story: Option<StoryId>,
    /// The item it nearly duplicates, if any.
    pub near_duplicate_of: Option<ItemId>,
    /// The winning score (0 for a new story without candidates).
    pub score: f32,
    /// The signals behind the best candidate, strongest first.
    pub signals: Vec<Signal>,
}

/// A story worth scoring for an item, by its slot.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    slot: u32,
    /// Lexical cosine with the story's centroid.
    cosine: f32,
    /// Rescaled embedding cosine (0 without a model).
    meaning: f32,
    /// The larger of the two.
    similarity: f32,
}

impl Candidate {
    fn new(slot: u32, cosine: f32, meanings: &FastMap<u32, f32>) -> Self {
        let meaning = meanings.get(&slot).copied().unwrap_or(0.0);
        Self {
            slot,
            cosine,
            meaning,
            similarity: cosine.max(meaning),
        }
    }
}

#[derive(Debug, Clone)]
struct IndexedItem {
    id: ItemId,
    story: StoryId,
    at_millis: i64,
    /// The signature's low 16 bits (b-bit MinHash): half the memory, and a chance
    /// agreement of 1 in 65,536 per value, far below the estimate's own error.
    minhash: Box<[u16]>,
    weights: Box<[(u32, f32)]>,
    entities: Vec<u64>,
    indicators: Vec<u64>,
    /// The embedding quantised to bytes (×127): a quarter of the memory, errors of ~0.4 %.
    embedding: Box<[i8]>,
}

#[derive(Debug, Clone, Default)]
struct StoryState {
    /// The sum of its items' embeddings (empty while none has one).
    embedding_sum: Vec<f32>,
    items: Vec<usize>,
    /// The sum of its items' weights, sorted by term (most stories are one item: a sorted
    /// vector costs a third of a hash map).
    term_sums: Vec<(u32, f32)>,
    norm2: f32,
    entities: FastMap<u64, u32>,
    indicators: FastMap<u64, u32>,
    last_millis: i64,
}

/// The story index. See the module documentation.
#[derive(Debug, Default)]
pub struct StoryIndex {
    config: ClusterConfig,
    items: Vec<IndexedItem>,
    by_item: FastMap<ItemId, usize>,
    /// LSH band key → the latest item with that key; `band_links` chains to earlier ones.
    buckets: FastMap<u64, u32>,
    /// Per item and band: the previous item with the same band key (`u32::MAX`: none).
    band_links: Vec<[u32; BANDS]>,
    /// Term → (item, weight) of every item with that term; its length is the term's
    /// document frequency.
    postings: FastMap<u32, Postings>,
    feature_postings: FastMap<u64, Vec<u32>>,
    indicator_items: FastMap<u64, u32>,
    stories: FastMap<StoryId, StoryState>,
    slots: FastMap<StoryId, u32>,
    /// Each item's story slot, packed: the hot loop of `assign` reads only this.
    item_slots: Vec<u32>,
    slot_ids: Vec<StoryId>,
    /// Each slot's story's squared centroid norm and latest date (`i64::MIN` once it has no
    /// items), kept with `stories`: `assign` ranks every lexical candidate from these
    /// without a hash lookup.
    slot_norm2: Vec<f32>,
    slot_last_millis: Vec<i64>,
    /// Reused per assignment: score accumulators by slot (interior mutability keeps
    /// `assign` a read-only query).
    scratch: std::cell::RefCell<Vec<f32>>,
}

impl StoryIndex {
    /// An empty index.
    pub fn new(config: ClusterConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Items indexed.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the item is indexed.
    pub fn contains(&self, item: ItemId) -> bool {
        self.by_item.contains_key(&item)
    }

    /// The story an indexed item belongs to.
    pub fn story_of(&self, item: ItemId) -> Option<StoryId> {
        self.by_item.get(&item).map(|&i| self.items[i].story)
    }

    /// Inverse document frequency; `extra` counts an item about to be added.
    fn idf(&self, term: u32, extra: usize) -> f32 {
        let n = (self.items.len() + extra) as f32;
        let df = (self.postings.get(&term).map_or(0, Postings::len) + extra) as f32;
        ((n + 1.0) / (df + 1.0)).ln() + 1.0
    }

    /// TF-IDF weights of a sketch's terms, L2-normalised, with the current document frequencies.
    fn weights_with(&self, sketch: &Sketch, extra: usize) -> Vec<(u32, f32)> {
        let mut weights: Vec<(u32, f32)> = sketch
            .terms
            .iter()
            .map(|&(t, count)| (t, (1.0 + (count as f32).ln()) * self.idf(t, extra)))
            .collect();
        let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm > 0.0 {
            for (_, w) in &mut weights {
                *w /= norm;
            }
        }
        weights
    }

    fn band_keys(sketch: &Sketch) -> impl Iterator<Item = (usize, u64)> + '_ {
        (0..BANDS).filter_map(move |band| {
            let rows = sketch.minhash.get(band * ROWS..(band + 1) * ROWS)?;
            if rows.iter().all(|&v| v == u32::MAX) {
                return None;
            }
            let mut key = mix(band as u64 + 1);
            for &v in rows {
                key = mix(key ^ u64::from(v));
            }
            Some((band, key))
        })
    }

    /// Decides where an item goes. Does not change the index.
    pub fn assign(&self, features: &ItemFeatures) -> Assignment {
        self.assign_ranked(features, true).0
    }

    /// [`StoryIndex::assign`]; with `prune`, candidates are scored best text first and the
    /// scoring stops at the first whose text similarity plus the most that shared entities
    /// and indicators could add cannot beat the best so far. At a million items a year an
    /// item's rare words name thousands of open stories; a handful are worth scoring.
    /// Without `prune` (tests), every candidate is scored: the outcome is the same. Also
    /// returns how many candidates were scored.
    fn assign_ranked(&self, features: &ItemFeatures, prune: bool) -> (Assignment, usize) {
        let window_start = features.at_millis - i64::from(self.config.window_days) * 86_400_000;
        let open = |slot: u32| self.slot_last_millis[slot as usize] >= window_start;

        // 1. Near-duplicates: LSH candidates, verified on the signature.
        let mut best_duplicate: Option<(f32, usize)> = None;
        let mut seen = FastSet::default();
        for (band, key) in Self::band_keys(&features.sketch) {
            let mut next = self.buckets.get(&key).copied();
            while let Some(candidate) = next.filter(|&c| c != u32::MAX) {
                next = self.band_links.get(candidate as usize).map(|links| links[band]);
                let candidate = candidate as usize;
                if !seen.insert(candidate) {
                    continue;
                }
                let jaccard = short_jaccard(&features.sketch.minhash, &self.items[candidate].minhash);
                if jaccard >= self.config.near_duplicate_jaccard
                    && best_duplicate.is_none_or(|(best, _)| jaccard > best)
                {
                    best_duplicate = Some((jaccard, candidate));
                }
            }
        }
        if let Some((jaccard, index)) = best_duplicate {
            let original = &self.items[index];
            let assignment = Assignment {
                story: Some(original.story),
                near_duplicate_of: Some(original.id),
                score: jaccard,
                signals: vec![Signal {
                    kind: "near_duplicate".to_owned(),
                    value: jaccard,
                    detail: format!(
                        "shares about {:.0}% of its word shingles with item {}",
                        jaccard * 100.0,
                        original.id
                    ),
                }],
            };
            return (assignment, 0);
        }

        // 2. Lexical similarity to story centroids, through the inverted index.
        // The full vector's weights, but only the heaviest terms that other items have are
        // looked up: common words add little to a cosine and cost the most to scan.
        let mut query: Vec<(u32, f32)> = self
            .weights_with(&features.sketch, 0)
            .into_iter()
            .filter(|(t, _)| self.postings.contains_key(t))
            .collect();
        query.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        query.truncate(QUERY_TERMS);
        let mut scratch = self.scratch.borrow_mut();
        scratch.clear();
        scratch.resize(self.slot_ids.len(), 0.0);
        let mut touched: Vec<u32> = Vec::new();
        for &(term, weight) in &query {
            for &(item, item_weight) in latest(self.postings.get(&term).map(Postings::as_slice)) {
                let slot = self.item_slots[item as usize];
                let dot = &mut scratch[slot as usize];
                if *dot == 0.0 {
                    touched.push(slot);
                }
                // Weights are positive, so a touched slot never reads as untouched.
                *dot += weight * item_weight;
            }
        }
        // 3. Meaning: the embedding's cosine with every open story's centroid.
        let mut meanings: FastMap<u32, f32> = FastMap::default();
        if !features.embedding.is_empty() {
            let floor = self.config.embedding_floor.clamp(0.0, 0.99);
            for (id, story) in &self.stories {
                if story.embedding_sum.len() != features.embedding.len() || story.last_millis < window_start {
                    continue;
                }
                let norm = story.embedding_sum.iter().map(|v| v * v).sum::<f32>().sqrt();
                if norm <= 0.0 {
                    continue;
                }
                let dot: f32 = features
                    .embedding
                    .iter()
                    .zip(&story.embedding_sum)
                    .map(|(a, b)| a * b)
                    .sum();
                let meaning = (dot / norm - floor) / (1.0 - floor);
                if meaning > 0.0
                    && let Some(&slot) = self.slots.get(id)
                {
                    meanings.insert(slot, meaning);
                }
            }
        }
        // Every open story the terms touched, then those sharing an indicator or an entity
        // (candidates even with little text), then those close in meaning.
        let mut ranked: Vec<Candidate> = touched
            .iter()
            .filter(|&&slot| open(slot))
            .map(|&slot| {
                let norm2 = self.slot_norm2[slot as usize];
                let cosine = if norm2 > 0.0 {
                    scratch[slot as usize] / norm2.sqrt()
                } else {
                    0.0
                };
                Candidate::new(slot, cosine, &meanings)
            })
            .collect();
        let mut without_text: FastSet<u32> = FastSet::default();
        for key in features.entities.iter().chain(&features.indicators) {
            for &item in latest(self.feature_postings.get(key).map(Vec::as_slice)) {
                let slot = self.item_slots[item as usize];
                if scratch[slot as usize] == 0.0 && open(slot) && without_text.insert(slot) {
                    ranked.push(Candidate::new(slot, 0.0, &meanings));
                }
            }
        }
        for &slot in meanings.keys() {
            if scratch[slot as usize] == 0.0 && without_text.insert(slot) {
                ranked.push(Candidate::new(slot, 0.0, &meanings));
            }
        }
        drop(scratch);
        ranked.sort_unstable_by(|a, b| b.similarity.total_cmp(&a.similarity));
        // The most a candidate's shared entities and indicators can add to its similarity.
        let entity_bound = self.config.entity_weight.max(0.0) * features.entities.len().min(2) as f32;
        let indicator_bound = self.config.indicator_weight.max(0.0) * features.indicators.len().min(2) as f32;
        let short = features.sketch.words < self.config.short_text_words;
        let lowest_threshold = if short {
            self.config.join_threshold.min(self.config.short_join_threshold)
        } else {
            self.config.join_threshold
        };
        // (score, story, signals, threshold): the best candidate that passes its threshold,
        // else the best candidate, to explain why none was joined.
        let mut best_passing: Option<(f32, StoryId, Vec<Signal>)> = None;
        let mut best_failing: Option<(f32, StoryId, f32)> = None;
        let mut scored = 0;
        for candidate in ranked {
            // Added in the order the score adds them, so that rounding keeps it a bound.
            // Entities and indicators count only with enough text in common (or a short text).
            let bound = if short || candidate.similarity >= self.config.evidence_min_text {
                candidate.similarity + entity_bound + indicator_bound
            } else {
                candidate.similarity
            };
            let settled = match (&best_passing, &best_failing) {
                (Some((best, _, _)), _) => bound < *best,
                (None, Some((best, _, _))) => bound < lowest_threshold && bound < *best,
                (None, None) => false,
            };
            if prune && settled {
                break;
            }
            let story_id = self.slot_ids[candidate.slot as usize];
            let Some(story) = self.stories.get(&story_id) else {
                continue;
            };
            scored += 1;
            let (cosine, meaning) = (candidate.cosine, candidate.meaning);
            let shared_entities = features
                .entities
                .iter()
                .filter(|k| story.entities.contains_key(k))
                .count();
            let shared_indicators = features
                .indicators
                .iter()
                .filter(|k| {
                    story.indicators.contains_key(k)
                        && self.indicator_items.get(k).copied().unwrap_or(0) <= MAX_INDICATOR_ITEMS
                })
                .count();
            let similarity = candidate.similarity;
            let evidence_counts = short || similarity >= self.config.evidence_min_text;
            let (shared_entities, shared_indicators) = if evidence_counts {
                (shared_entities, shared_indicators)
            } else {
                (0, 0)
            };
            let entity_score = self.config.entity_weight * shared_entities.min(2) as f32;
            let indicator_score = self.config.indicator_weight * shared_indicators.min(2) as f32;
            let score = similarity + entity_score + indicator_score;
            // A short text's words say little; a shared indicator still says a lot.
            let threshold = if short && shared_indicators == 0 {
                self.config.short_join_threshold
            } else {
                self.config.join_threshold
            };
            let better = |current: Option<(f32, StoryId)>| {
                current.is_none_or(|(s, id)| score > s || (score == s && story_id < id))
            };
            if score < threshold {
                if better(best_failing.map(|(s, id, _)| (s, id))) {
                    best_failing = Some((score, story_id, threshold));
                }
                continue;
            }
            if !better(best_passing.as_ref().map(|(s, id, _)| (*s, *id))) {
                continue;
            }
            let mut signals = vec![Signal {
                kind: "text".to_owned(),
                value: cosine,
                detail: format!("cosine {cosine:.2} with the story's centroid"),
            }];
            if meaning > 0.0 {
                signals.push(Signal {
                    kind: "meaning".to_owned(),
                    value: meaning,
                    detail: format!(
                        "sentence-embedding cosine {:.2} with the story's centroid",
                        self.config.embedding_floor + meaning * (1.0 - self.config.embedding_floor)
                    ),
                });
            }
            if shared_entities > 0 {
                signals.push(Signal {
                    kind: "entities".to_owned(),
                    value: entity_score,
                    detail: format!(
                        "{shared_entities} actor, malware, tool, campaign or CVE mention(s) in common"
                    ),
                });
            }
            if shared_indicators > 0 {
                signals.push(Signal {
                    kind: "indicators".to_owned(),
                    value: indicator_score,
                    detail: format!("{shared_indicators} indicator(s) in common"),
                });
            }
            signals.sort_by(|a, b| b.value.total_cmp(&a.value));
            best_passing = Some((score, story_id, signals));
        }
        let assignment = match (best_passing, best_failing) {
            (Some((score, story, signals)), _) => Assignment {
                story: Some(story),
                near_duplicate_of: None,
                score,
                signals,
            },
            (None, Some((score, story, threshold))) => Assignment {
                story: None,
                near_duplicate_of: None,
                score,
                signals: vec![Signal {
                    kind: "below_threshold".to_owned(),
                    value: threshold,
                    detail: format!(
                        "the closest story, {story}, scored {score:.2}, under the {}threshold {threshold:.2}",
                        if short { "short-text " } else { "" }
                    ),
                }],
            },
            (None, None) => Assignment {
                story: None,
                near_duplicate_of: None,
                score: 0.0,
                signals: Vec::new(),
            },
        };
        (assignment, scored)
    }

    /// Records an item in `story` (an existing or a newly created one). An item already
    /// indexed is moved instead.
    pub fn insert(&mut self, features: ItemFeatures, story: StoryId) {
        if self.contains(features.item) {
            self.move_item(features.item, story);
            return;
        }
        // Weighted with the item counted in its terms' document frequencies.
        let weights = self.weights_with(&features.sketch, 1);
        let index = self.items.len();
        let index_u32 = u32::try_from(index).unwrap_or(u32::MAX);
        let mut links = [u32::MAX; BANDS];
        for (band, key) in Self::band_keys(&features.sketch) {
            links[band] = self.buckets.insert(key, index_u32).unwrap_or(u32::MAX);
        }
        self.band_links.push(links);
        for &(term, weight) in &weights {
            match self.postings.get_mut(&term) {
                Some(list) => list.push((index_u32, weight)),
                None => {
                    self.postings.insert(term, Postings::One([(index_u32, weight)]));
                }
            }
        }
        for &key in &features.indicators {
            *self.indicator_items.entry(key).or_insert(0) += 1;
        }
        for &key in features.entities.iter().chain(&features.indicators) {
            let list = self.feature_postings.entry(key).or_default();
            if list.last() != Some(&index_u32) {
                list.push(index_u32);
            }
        }
        self.by_item.insert(features.item, index);
        let slot = self.slot_of(story);
        self.item_slots.push(slot);
        self.items.push(IndexedItem {
            id: features.item,
            story,
            at_millis: features.at_millis,
            minhash: features.sketch.minhash.iter().map(|&v| v as u16).collect(),
            weights: weights.into_boxed_slice(),
            entities: features.entities,
            indicators: features.indicators,
            embedding: features.embedding.iter().map(|&v| quantize(v)).collect(),
        });
        self.attach(index, story);
    }

    fn attach(&mut self, index: usize, story_id: StoryId) {
        let item = &self.items[index];
        let story = self.stories.entry(story_id).or_default();
        story.items.push(index);
        if !item.embedding.is_empty() {
            if story.embedding_sum.len() != item.embedding.len() {
                story.embedding_sum = vec![0.0; item.embedding.len()];
            }
            for (sum, &v) in story.embedding_sum.iter_mut().zip(item.embedding.iter()) {
                *sum += dequantize(v);
            }
        }
        for &(term, weight) in item.weights.iter() {
            match story.term_sums.binary_search_by_key(&term, |t| t.0) {
                Ok(at) => {
                    let sum = &mut story.term_sums[at].1;
                    story.norm2 += 2.0 * *sum * weight + weight * weight;
                    *sum += weight;
                }
                Err(at) => {
                    story.norm2 += weight * weight;
                    story.term_sums.insert(at, (term, weight));
                }
            }
        }
        for &k in &item.entities {
            *story.entities.entry(k).or_insert(0) += 1;
        }
        for &k in &item.indicators {
            *story.indicators.entry(k).or_insert(0) += 1;
        }
        story.last_millis = story.last_millis.max(item.at_millis);
        self.sync_slot(story_id);
    }

    fn detach(&mut self, index: usize) {
        let story_id = self.items[index].story;
        self.detach_from_story(index);
        self.sync_slot(story_id);
    }

    fn detach_from_story(&mut self, index: usize) {
        let item = &self.items[index];
        let Some(story) = self.stories.get_mut(&item.story) else {
            return;
        };
        story.items.retain(|&i| i != index);
        for &(term, weight) in item.weights.iter() {
            if let Ok(at) = story.term_sums.binary_search_by_key(&term, |t| t.0) {
                let sum = &mut story.term_sums[at].1;
                story.norm2 += weight * weight - 2.0 * *sum * weight;
                *sum -= weight;
            }
        }
        story.norm2 = story.norm2.max(0.0);
        if story.embedding_sum.len() == item.embedding.len() {
            for (sum, &v) in story.embedding_sum.iter_mut().zip(item.embedding.iter()) {
                *sum -= dequantize(v);
            }
        }
        for k in &item.entities {
            if let Some(n) = story.entities.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    story.entities.remove(k);
                }
            }
        }
        for k in &item.indicators {
            if let Some(n) = story.indicators.get_mut(k) {
                *n -= 1;
                if *n == 0 {
                    story.indicators.remove(k);
                }
            }
        }
        let remaining: Vec<usize> = story.items.clone();
        story.last_millis = remaining
            .iter()
            .map(|&i| self.items[i].at_millis)
            .max()
            .unwrap_or(0);
        if remaining.is_empty() {
            let id = item.story;
            self.stories.remove(&id);
        }
    }

    fn slot_of(&mut self, story: StoryId) -> u32 {
        if let Some(&slot) = self.slots.get(&story) {
            return slot;
        }
        let slot = u32::try_from(self.slot_ids.len()).unwrap_or(u32::MAX);
        self.slot_ids.push(story);
        self.slot_norm2.push(0.0);
        self.slot_last_millis.push(i64::MIN);
        self.slots.insert(story, slot);
        slot
    }

    /// Copies a story's norm and latest date to its slot.
    fn sync_slot(&mut self, story: StoryId) {
        let Some(&slot) = self.slots.get(&story) else {
            return;
        };
        let (norm2, last) = self
            .stories
            .get(&story)
            .map_or((0.0, i64::MIN), |s| (s.norm2, s.last_millis));
        self.slot_norm2[slot as usize] = norm2;
        self.slot_last_millis[slot as usize] = last;
    }

    /// Moves an indexed item to another story (an analyst's decision).
    pub fn move_item(&mut self, item: ItemId, to: StoryId) {
        let Some(&index) = self.by_item.get(&item) else {
            return;
        };
        if self.items[index].story == to {
            return;
        }
        self.detach(index);
        let slot = self.slot_of(to);
        self.items[index].story = to;
        self.item_slots[index] = slot;
        self.attach(index, to);
    }

    /// Gives story `from` the id `to` (a story known by a provisional id until it was
    /// stored). Where `to` already has items, the two are merged.
    pub fn rename_story(&mut self, from: StoryId, to: StoryId) {
        if from == to {
            return;
        }
        if self.stories.contains_key(&to) {
            self.merge(from, to);
            return;
        }
        let Some(state) = self.stories.remove(&from) else {
            return;
        };
        for &index in &state.items {
            self.items[index].story = to;
        }
        if let Some(slot) = self.slots.remove(&from) {
            self.slot_ids[slot as usize] = to;
            self.slots.insert(to, slot);
        }
        self.stories.insert(to, state);
    }

    /// Moves every item of `from` into `into`.
    pub fn merge(&mut self, from: StoryId, into: StoryId) {
        let Some(story) = self.stories.get(&from) else {
            return;
        };
        let ids: Vec<ItemId> = story.items.iter().map(|&i| self.items[i].id).collect();
        for id in ids {
            self.move_item(id, into);
        }
    }

    /// The item of a story closest to its centroid: its headline is the story's title.
    pub fn representative(&self, story: StoryId) -> Option<ItemId> {
        let state = self.stories.get(&story)?;
        state
            .items
            .iter()
            .map(|&i| {
                let item = &self.items[i];
                let dot: f32 = item
                    .weights
                    .iter()
                    .map(|(t, w)| {
                        let sum = state
                            .term_sums
                            .binary_search_by_key(t, |s| s.0)
                            .map_or(0.0, |at| state.term_sums[at].1);
                        w * sum
                    })
                    .sum();
                (dot, item.id)
            })
            .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
            .map(|(_, id)| id)
    }

    /// Approximate heap bytes held (sketches, vectors, tables).
    pub fn memory_bytes(&self) -> usize {
        self.memory().values().sum()
    }

    /// [`StoryIndex::memory_bytes`] by part: `items` (sketches, weight vectors, entity and
    /// indicator keys, embeddings), `lsh`, `postings` (inverted indexes) and `stories`
    /// (centroids, member lists).
    pub fn memory(&self) -> std::collections::BTreeMap<&'static str, usize> {
        let item = |i: &IndexedItem| {
            std::mem::size_of::<IndexedItem>()
                + i.minhash.len() * 2
                + i.weights.len() * 8
                + (i.entities.capacity() + i.indicators.capacity()) * 8
                + i.embedding.len()
        };
        let items: usize = self.items.iter().map(item).sum();
        let buckets = self.buckets.capacity() * 13 + self.band_links.capacity() * BANDS * 4;
        let postings: usize = self.postings.values().map(|v| v.heap_bytes() + 28).sum::<usize>()
            + self
                .feature_postings
                .values()
                .map(|v| v.capacity() * 4 + 40)
                .sum::<usize>();
        let stories: usize = self
            .stories
            .values()
            .map(|s| {
                s.items.capacity() * 8 + s.term_sums.capacity() * 8 + s.embedding_sum.capacity() * 4 + 120
            })
            .sum::<usize>()
            + self.slot_ids.capacity() * 8
            + self.slot_norm2.capacity() * 4
            + self.slot_last_millis.capacity() * 8;
        [
            ("items", items),
            ("lsh", buckets),
            ("postings", postings),
            ("stories", stories),
        ]
        .into_iter()
        .collect()
    }
}

/// An embedding value (in [-1, 1] for unit vectors) as a byte: ×127, rounded.
pub(crate) fn quantize(v: f32) -> i8 {
    (v * 127.0).round().clamp(-127.0, 127.0) as i8
}

/// The value a byte from [`quantize`] stands for.
pub(crate) fn dequantize(b: i8) -> f32 {
    f32::from(b) / 127.0
}

/// The estimated Jaccard of a full signature and a stored 16-bit one.
fn short_jaccard(full: &[u32], short: &[u16]) -> f32 {
    if full.len() != short.len() || full.is_empty() {
        return 0.0;
    }
    let same = full
        .iter()
        .zip(short)
        .filter(|(a, b)| **a != u32::MAX && **a as u16 == **b)
        .count();
    same as f32 / full.len() as f32
}

/// The latest [`MAX_POSTINGS_SCANNED`] entries of a posting list.
fn latest<T>(list: Option<&[T]>) -> &[T] {
    let list = list.unwrap_or_default();
    &list[list.len().saturating_sub(MAX_POSTINGS_SCANNED)..]
}

/// A term's posting list: most terms are in one item only, and need no allocation.
#[derive(Debug, Clone)]
enum Postings {
    One([(u32, f32); 1]),
    Many(Vec<(u32, f32)>),
}

impl Postings {
    fn len(&self) -> usize {
        match self {
            Postings::One(_) => 1,
            Postings::Many(v) => v.len(),
        }
    }

    fn as_slice(&self) -> &[(u32, f32)] {
        match self {
            Postings::One(one) => one,
            Postings::Many(v) => v,
        }
    }

    fn push(&mut self, entry: (u32, f32)) {
        match self {
            Postings::One([first]) => *self = Postings::Many(vec![*first, entry]),
            Postings::Many(v) => v.push(entry),
        }
    }

    fn heap_bytes(&self) -> usize {
        match self {
            Postings::One(_) => 0,
            Postings::Many(v) => v.capacity() * 8,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift64*).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Items of overlapping events in a small vocabulary, so that every item's terms touch
    /// many stories: each event has its own words, entities, indicators and direction in
    /// meaning, and each report mixes them with words of the whole field.
    fn dense_items(count: i64) -> Vec<ItemFeatures> {
        const WORDS: usize = 600;
        const EVENTS: usize = 120;
        const DIMENSIONS: usize = 16;
        let mut random = Random(0x9e37_79b9_7f4a_7c15);
        let word = |n: usize| format!("w{n}x");
        let events: Vec<(Vec<usize>, Vec<f32>)> = (0..EVENTS)
            .map(|_| {
                let own = (0..20).map(|_| random.below(WORDS)).collect();
                let direction = (0..DIMENSIONS)
                    .map(|_| random.below(200) as f32 / 100.0 - 1.0)
                    .collect();
                (own, direction)
            })
            .collect();
        (0..count)
            .map(|id| {
                let event = random.below(EVENTS);
                let (own, direction) = &events[event];
                let mut words: Vec<String> = (0..40).map(|_| word(own[random.below(own.len())])).collect();
                words.extend((0..60).map(|_| word(random.below(WORDS))));
                let entities = (0..random.below(4))
                    .map(|_| feature_key("entity", &format!("e{}", (event + random.below(3)) % 40)))
                    .collect();
                let indicators = (0..random.below(3))
                    .map(|_| feature_key("ipv4", &format!("i{}", (event * 7 + random.below(2)) % 90)))
                    .collect();
                let embedding = if id % 2 == 0 {
                    let mut v: Vec<f32> = direction
                        .iter()
                        .map(|d| d + random.below(100) as f32 / 100.0 - 0.5)
                        .collect();
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                    v.iter_mut().for_each(|x| *x /= norm);
                    v
                } else {
                    Vec::new()
                };
                // Short items now and then: they have their own threshold.
                let text_words = if id % 7 == 0 { 30 } else { words.len() };
                ItemFeatures {
                    item: ItemId(id + 1),
                    source: SourceId(id % 5),
                    at_millis: 1_790_000_000_000 + id * 600_000,
                    sketch: Sketch::of(&format!("report {id}"), &words[..text_words].join(" ")),
                    entities,
                    indicators,
                    embedding,
                }
            })
            .collect()
    }

    #[test]
    fn pruned_assignment_decides_as_scoring_every_candidate_does_with_far_fewer_scored() {
        for config in [
            ClusterConfig::default(),
            ClusterConfig {
                join_threshold: 0.25,
                entity_weight: 0.3,
                indicator_weight: 0.4,
                embedding_floor: 0.3,
                ..ClusterConfig::default()
            },
        ] {
            let mut index = StoryIndex::new(config.clone());
            let (mut scored_pruned, mut scored_all, mut joined) = (0, 0, 0);
            for features in dense_items(3_000) {
                let (pruned, pruned_count) = index.assign_ranked(&features, true);
                let (full, full_count) = index.assign_ranked(&features, false);
                assert_eq!(pruned, full, "item {} under {config:?}", features.item);
                scored_pruned += pruned_count;
                scored_all += full_count;
                joined += usize::from(pruned.story.is_some());
                let story = pruned.story.unwrap_or(StoryId(features.item.0));
                index.insert(features, story);
            }
            eprintln!(
                "{joined} of 3,000 joined a story; {scored_pruned} candidates scored, {scored_all} without pruning"
            );
            assert!(
                joined > 300,
                "only {joined} items joined a story: the corpus is not dense"
            );
            assert!(
                scored_pruned * 4 < scored_all,
                "{scored_pruned} candidates scored with pruning, {scored_all} without"
            );
        }
    }
}
