//! Feed reading measured in-process like Python's feedparser in `scripts/bench-feed.sh`:
//! every file is read into memory first, then each round parses every feed and turns each
//! entry into an item (HTML to text, language, content hash), as collection does when a
//! page cannot be fetched. The best round counts. Prints one JSON object:
//! `{"bytes", "entries", "seconds", "rounds"}`.
//!
//! `cargo run --release -p threatdesk-collect --example feed_timing -- [--rounds N] [--parse-only] FILE...`
//! (`--parse-only`: feed-rs and entry fields only, no HTML-to-text.)

use std::time::Instant;

use chrono::Utc;
use threatdesk_collect::feed::parse_feed;
use threatdesk_model::{NewSource, Source, SourceId, SourceKind};

fn main() {
    let mut rounds = 5usize;
    let mut parse_only = false;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().and_then(|r| r.parse().ok()).unwrap_or(rounds).max(1),
            "--parse-only" => parse_only = true,
            _ => paths.push(arg),
        }
    }
    let feeds: Vec<Vec<u8>> = paths.iter().filter_map(|p| std::fs::read(p).ok()).collect();
    let bytes: usize = feeds.iter().map(Vec::len).sum();
    let source = Source {
        id: SourceId(1),
        spec: NewSource::new("bench", SourceKind::Feed, "https://bench.example/feed"),
        created_at: Utc::now(),
    };
    let mut best = f64::INFINITY;
    let mut entries = 0usize;
    for _ in 0..rounds {
        let started = Instant::now();
        entries = 0;
        for feed in &feeds {
            let Ok(parsed) = parse_feed(feed, Some("https://bench.example/feed")) else {
                continue;
            };
            for entry in parsed.entries {
                if parse_only || entry.into_item(None, &source, Utc::now()).is_ok() {
                    entries += 1;
                }
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!(
        "{}",
        serde_json::json!({"bytes": bytes, "entries": entries, "seconds": best, "rounds": rounds})
    );
}
