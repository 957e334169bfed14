//! `threatdesk eval stories`: story clustering scored on a labelled set built from real
//! reports (AnnoCTR's raw texts, read from disk).
//!
//! Each report becomes one gold story of four items, the way one event reaches a newsroom:
//! - the **original**;
//! - a **syndicated copy**: the same text with another outlet's header and footer
//!   (a near-duplicate);
//! - a **teaser**: its first 60 % of lines (what a feed's summary or a short re-post gives);
//! - an **other outlet's account**: every second sentence only, headed by its own first
//!   words (the same event in half the words, sharing few shingles and not the headline
//!   with the original: it must be joined by vocabulary, meaning, entities and indicators,
//!   not as a copy).
//!
//! Different reports are different stories, including reports on the same actor: the hard
//! negatives. Items arrive in a fixed pseudo-random order. Scores: pairwise precision,
//! recall and F1 over item pairs, B-cubed precision, recall and F1 over items, and how many
//! syndicated copies were flagged as near-duplicates; for the full method and for ablations
//! (near-duplicates only; text without entity and indicator evidence).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::Serialize;
use threatdesk_cluster::{ClusterConfig, ItemFeatures, StoryIndex};
use threatdesk_model::{ItemId, SourceId, StoryId};

use crate::EXIT_OK;
use crate::cli::{EvalStoriesArgs, Format, GlobalArgs};
use crate::config::DataDir;
use crate::output::print_json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Variant {
    Original,
    Syndicated,
    Teaser,
    OtherOutlet,
}

struct LabelledItem {
    gold: usize,
    variant: Variant,
    features: ItemFeatures,
    /// What the embedding model reads: headline and lead, if there is enough prose.
    embedded_text: Option<String>,
}

#[derive(Debug, Serialize)]
struct MethodScore {
    method: &'static str,
    stories: usize,
    pairwise_precision: f64,
    pairwise_recall: f64,
    pairwise_f1: f64,
    bcubed_precision: f64,
    bcubed_recall: f64,
    bcubed_f1: f64,
    /// Original/copy pairs where one is flagged as the other's near-duplicate.
    near_duplicates_found: usize,
    syndicated_copies: usize,
    /// Items flagged as near-duplicates of another report's item.
    near_duplicates_wrong: usize,
    /// Recall per variant: the share of its items in their original's story.
    joined_original: HashMap<String, f64>,
}

#[derive(Debug, Serialize)]
struct StoriesReport {
    reports: usize,
    items: usize,
    split: String,
    /// Which similarity the configured clustering uses.
    clustering: String,
    methods: Vec<MethodScore>,
}

/// Scores the configured `[cluster]` settings (the data folder's file and
/// `THREATDESK_CLUSTER__*` variables, else the defaults) and two ablations.
pub fn run(data: &DataDir, global: &GlobalArgs, args: EvalStoriesArgs) -> anyhow::Result<ExitCode> {
    let folder = args.annoctr.join("text").join(&args.split);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .with_context(|| format!("cannot read {}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        bail!("no reports in {}", folder.display());
    }
    let recognizer = threatdesk_extract::Recognizer::builtin();
    let mut items = labelled_items(&paths, recognizer)?;
    let config = data.load_config()?;
    let base = config.cluster.clone();
    let mut embeddings = config.embeddings.clone();
    if let Some(model) = &args.model {
        embeddings.model_dir = model.display().to_string();
    }
    let (model, clustering) = super::stories::embedding_model(data, &embeddings);
    let mut methods = Vec::new();
    if let Some(model) = &model {
        let started = std::time::Instant::now();
        let mut embedded: Vec<&mut LabelledItem> =
            items.iter_mut().filter(|i| i.embedded_text.is_some()).collect();
        for chunk in embedded.chunks_mut(embeddings.batch_size.max(1)) {
            let texts: Vec<&str> = chunk.iter().filter_map(|i| i.embedded_text.as_deref()).collect();
            let vectors = model.embed(&texts)?;
            for (item, vector) in chunk.iter_mut().zip(vectors) {
                item.features.embedding = vector;
            }
        }
        tracing::info!(
            items = items.len(),
            seconds = started.elapsed().as_secs_f64(),
            "Embedded"
        );
        methods.push(score("threatdesk, lexical and embeddings", &items, base.clone()));
        for item in &mut items {
            item.features.embedding.clear();
        }
    }
    methods.extend([
        score("threatdesk, lexical only", &items, base.clone()),
        score(
            "text only (no entity or indicator evidence)",
            &items,
            ClusterConfig {
                entity_weight: 0.0,
                indicator_weight: 0.0,
                ..base.clone()
            },
        ),
        score(
            "near-duplicates only",
            &items,
            ClusterConfig {
                join_threshold: f32::INFINITY,
                short_join_threshold: f32::INFINITY,
                ..base
            },
        ),
    ]);
    let report = StoriesReport {
        reports: paths.len(),
        items: items.len(),
        split: args.split.clone(),
        clustering,
        methods,
    };
    if global.format == Format::Text {
        print_report(&report);
    } else {
        print_json(&report)?;
    }
    Ok(ExitCode::from(EXIT_OK))
}

fn labelled_items(
    paths: &[PathBuf],
    recognizer: &threatdesk_extract::Recognizer,
) -> anyhow::Result<Vec<LabelledItem>> {
    let mut items = Vec::new();
    for (gold, path) in paths.iter().enumerate() {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let title = lines.first().map(|l| l.trim()).unwrap_or_default().to_owned();
        let body = lines.join("\n");
        let teaser = lines[..(lines.len() * 6 / 10).max(1)].join("\n");
        let sentences: Vec<&str> = body.split(". ").collect();
        let other: Vec<&str> = sentences.iter().skip(1).step_by(2).copied().collect();
        let variants = [
            (Variant::Original, title.clone(), body.clone()),
            (
                Variant::Syndicated,
                title.clone(),
                format!(
                    "Originally published by our partners; reposted with permission.\n{body}\n\
                     Sign up for our weekly newsletter and follow us for more threat research."
                ),
            ),
            (Variant::Teaser, title.clone(), teaser),
            (
                Variant::OtherOutlet,
                // Its own headline: its first words, not the original's headline.
                other
                    .first()
                    .map(|s| s.split_whitespace().take(12).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default(),
                other.join(". "),
            ),
        ];
        for (variant, title, text) in variants {
            let id = ItemId(items.len() as i64 + 1);
            let findings = super::ingest::extract_findings(&text, recognizer);
            let source = SourceId(variant as i64 + 1);
            let url = format!("https://source{}.example/{}", source.0, path_stem(path));
            let features = super::stories::features_from(id, source, 0, (&title, &text), &url, &findings);
            items.push(LabelledItem {
                gold,
                variant,
                features,
                embedded_text: threatdesk_cluster::lead(&title, &text, 2_000),
            });
        }
    }
    // A fixed pseudo-random arrival order (splitmix64 keys).
    let mut keyed: Vec<(u64, LabelledItem)> = items
        .into_iter()
        .map(|item| (mix(item.features.item.0 as u64), item))
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    Ok(keyed.into_iter().map(|(_, item)| item).collect())
}

fn path_stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

fn score(method: &'static str, items: &[LabelledItem], config: ClusterConfig) -> MethodScore {
    let mut index = StoryIndex::new(config);
    let mut predicted: Vec<StoryId> = Vec::with_capacity(items.len());
    let mut flagged: Vec<Option<ItemId>> = Vec::with_capacity(items.len());
    for item in items {
        let assignment = index.assign(&item.features);
        let story = assignment.story.unwrap_or(StoryId(item.features.item.0));
        flagged.push(assignment.near_duplicate_of);
        index.insert(item.features.clone(), story);
        predicted.push(story);
    }
    // Pairwise.
    let (mut tp, mut fp, mut fn_) = (0u64, 0u64, 0u64);
    for i in 0..items.len() {
        for j in i + 1..items.len() {
            let same_gold = items[i].gold == items[j].gold;
            let same_predicted = predicted[i] == predicted[j];
            match (same_gold, same_predicted) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => {}
            }
        }
    }
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let f1 = |p: f64, r: f64| if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) };
    let (pp, pr) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    // B-cubed.
    let mut by_story: HashMap<StoryId, Vec<usize>> = HashMap::new();
    for (i, s) in predicted.iter().enumerate() {
        by_story.entry(*s).or_default().push(i);
    }
    let (mut bp, mut br) = (0.0, 0.0);
    for (i, item) in items.iter().enumerate() {
        let cluster = &by_story[&predicted[i]];
        let correct = cluster.iter().filter(|&&j| items[j].gold == item.gold).count() as f64;
        let gold_size = items.iter().filter(|o| o.gold == item.gold).count() as f64;
        bp += correct / cluster.len() as f64;
        br += correct / gold_size;
    }
    let n = items.len() as f64;
    let (bp, br) = (bp / n, br / n);
    // Near-duplicates and per-variant joins.
    let syndicated = items.iter().filter(|i| i.variant == Variant::Syndicated).count();
    // A copy is found when it, or its original, is flagged as the other's near-duplicate
    // (whichever arrived second is the copy as far as the newsroom can tell).
    let id_of = |gold: usize, variant: Variant| {
        items
            .iter()
            .find(|i| i.gold == gold && i.variant == variant)
            .map(|i| i.features.item)
    };
    let flag_of: HashMap<ItemId, Option<ItemId>> = items
        .iter()
        .zip(&flagged)
        .map(|(i, f)| (i.features.item, *f))
        .collect();
    let found = (0..=items.iter().map(|i| i.gold).max().unwrap_or(0))
        .filter(|&gold| {
            let (Some(original), Some(copy)) =
                (id_of(gold, Variant::Original), id_of(gold, Variant::Syndicated))
            else {
                return false;
            };
            flag_of.get(&copy) == Some(&Some(original)) || flag_of.get(&original) == Some(&Some(copy))
        })
        .count();
    let gold_of: HashMap<ItemId, usize> = items.iter().map(|i| (i.features.item, i.gold)).collect();
    let wrong = items
        .iter()
        .zip(&flagged)
        .filter(|(i, f)| f.is_some_and(|of| gold_of.get(&of) != Some(&i.gold)))
        .count();
    let original_story: HashMap<usize, StoryId> = items
        .iter()
        .zip(&predicted)
        .filter(|(i, _)| i.variant == Variant::Original)
        .map(|(i, s)| (i.gold, *s))
        .collect();
    let mut joined_original = HashMap::new();
    for variant in [Variant::Syndicated, Variant::Teaser, Variant::OtherOutlet] {
        let of_kind: Vec<(&LabelledItem, &StoryId)> = items
            .iter()
            .zip(&predicted)
            .filter(|(i, _)| i.variant == variant)
            .collect();
        let joined = of_kind
            .iter()
            .filter(|(i, s)| original_story.get(&i.gold) == Some(s))
            .count();
        let name = serde_json::to_value(variant)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        joined_original.insert(name, ratio(joined as u64, of_kind.len() as u64));
    }
    MethodScore {
        method,
        stories: by_story.len(),
        pairwise_precision: pp,
        pairwise_recall: pr,
        pairwise_f1: f1(pp, pr),
        bcubed_precision: bp,
        bcubed_recall: br,
        bcubed_f1: f1(bp, br),
        near_duplicates_found: found,
        syndicated_copies: syndicated,
        near_duplicates_wrong: wrong,
        joined_original,
    }
}

fn print_report(report: &StoriesReport) {
    println!(
        "AnnoCTR {} reports: {} gold stories of 4 items each ({} items); configured clustering: {}",
        report.split, report.reports, report.items, report.clustering
    );
    println!(
        "{:<46} {:>7} {:>6} {:>6} {:>6}   {:>6} {:>6} {:>6}   {:>9}  {:>7} {:>7} {:>7}",
        "method", "stories", "pair P", "R", "F1", "B3 P", "R", "F1", "near-dups", "synd.", "teaser", "other"
    );
    for m in &report.methods {
        let joined = |k: &str| m.joined_original.get(k).copied().unwrap_or(0.0);
        println!(
            "{:<46} {:>7} {:>6.3} {:>6.3} {:>6.3}   {:>6.3} {:>6.3} {:>6.3}   {:>4}/{:<4}  {:>7.3} {:>7.3} {:>7.3}",
            m.method,
            m.stories,
            m.pairwise_precision,
            m.pairwise_recall,
            m.pairwise_f1,
            m.bcubed_precision,
            m.bcubed_recall,
            m.bcubed_f1,
            m.near_duplicates_found,
            m.syndicated_copies,
            joined("syndicated"),
            joined("teaser"),
            joined("other_outlet"),
        );
    }
    println!("(synd., teaser, other: share of those variants placed in their original's story)");
}
