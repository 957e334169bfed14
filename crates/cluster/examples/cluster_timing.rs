//! Story assignment speed and memory at scale: N synthetic items (default 100,000)
//! arriving one by one over 60 days. Each item reports one of N/5 events: 250 words, 70 %
//! drawn from a 30,000-word vocabulary with English-like (Zipf) frequencies, 30 % from its
//! event's own 40 rarer words; each names one of 500 actors. Every 20th item is a
//! syndicated copy of a recent one. Prints, as one JSON object, the assignment rate over
//! the last 10 % of items (when the index is fullest), the index's own estimate of its
//! memory, and the process's resident memory.
//!
//! `cargo run --release -p threatdesk-cluster --example cluster_timing -- [N]`

use std::time::Instant;

use threatdesk_cluster::{ClusterConfig, ItemFeatures, Sketch, StoryIndex, feature_key};
use threatdesk_model::{ItemId, SourceId, StoryId};

const VOCABULARY: usize = 30_000;
const WORDS_PER_ITEM: usize = 250;
const EVENT_WORDS: u64 = 40;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let events = (n / 5).max(1) as u64;
    // Zipf(1) over the vocabulary, as a cumulative table for sampling.
    let mut cumulative = Vec::with_capacity(VOCABULARY);
    let mut total = 0.0f64;
    for rank in 1..=VOCABULARY {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    let mut rng = 42u64;
    // Copies are made of recent items; older texts are not kept, so resident memory is the
    // index's (plus this small ring).
    let mut recent: std::collections::VecDeque<String> = std::collections::VecDeque::with_capacity(2048);
    let mut index = StoryIndex::new(ClusterConfig::default());
    let started = Instant::now();
    let mut tail_started = started;
    let tail_from = n - n / 10;
    let mut new_stories = 0usize;
    for i in 0..n {
        if i == tail_from {
            tail_started = Instant::now();
        }
        let text = if i % 20 == 19 {
            let original = &recent[next(&mut rng) as usize % recent.len()];
            format!("Reposted. {original} Subscribe for more.")
        } else {
            // Events happen in time order, a few items each.
            let event = (i as u64 * events / n as u64 + next(&mut rng) % 3).min(events - 1);
            let mut words = Vec::with_capacity(WORDS_PER_ITEM);
            for _ in 0..WORDS_PER_ITEM {
                if next(&mut rng) % 10 < 3 {
                    words.push(format!("e{event}x{}", next(&mut rng) % EVENT_WORDS));
                } else {
                    let u = (next(&mut rng) >> 11) as f64 / (1u64 << 53) as f64 * total;
                    let rank = cumulative.partition_point(|&c| c < u);
                    words.push(format!("w{rank}"));
                }
            }
            words.join(" ")
        };
        let features = ItemFeatures {
            item: ItemId(i as i64 + 1),
            source: SourceId((i % 50) as i64),
            at_millis: 1_790_000_000_000 + (i as i64) * 60 * 86_400_000 / n as i64,
            sketch: Sketch::of("", &text),
            entities: vec![feature_key("entity", &format!("actor{}", next(&mut rng) % 500))],
            indicators: Vec::new(),
            embedding: Vec::new(),
        };
        let assignment = index.assign(&features);
        let story = assignment.story.unwrap_or_else(|| {
            new_stories += 1;
            StoryId(i as i64 + 1)
        });
        index.insert(features, story);
        if recent.len() == 2048 {
            recent.pop_front();
        }
        recent.push_back(text);
    }
    let tail_secs = tail_started.elapsed().as_secs_f64();
    let total_secs = started.elapsed().as_secs_f64();
    drop(recent);
    let rss_kb = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    println!(
        "{}",
        serde_json::json!({
            "items": n,
            "stories": new_stories,
            "items_per_second_last_10pct": (n / 10) as f64 / tail_secs,
            "items_per_second_overall": n as f64 / total_secs,
            "index_bytes_estimate": index.memory_bytes(),
            "index_bytes_by_part": index.memory(),
            "rss_bytes": rss_kb * 1024,
        })
    );
}

/// splitmix64: a small deterministic generator, so every run sees the same items.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
