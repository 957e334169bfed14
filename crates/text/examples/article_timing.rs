//! Main-text extraction over HTML files, measured in-process like the Python peers in
//! `scripts/bench-article.sh`: every page is read first, then each round extracts from all
//! of them; the best round counts. Prints one JSON object:
//! `{"bytes", "seconds", "rounds", "texts": {FILE: TEXT}}`.
//!
//! `cargo run --release -p threatdesk-text --example article_timing -- [--rounds N] FILE...`

use std::time::Instant;

fn main() {
    let mut rounds = 3usize;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().and_then(|r| r.parse().ok()).unwrap_or(rounds).max(1),
            _ => paths.push(arg),
        }
    }
    let pages: Vec<(String, String)> = paths
        .iter()
        .filter_map(|p| {
            std::fs::read(p)
                .ok()
                .map(|bytes| (p.clone(), threatdesk_text::decode(&bytes).text.into_owned()))
        })
        .collect();
    let bytes: usize = pages.iter().map(|(_, html)| html.len()).sum();
    let mut best = f64::INFINITY;
    let mut texts = std::collections::BTreeMap::new();
    for round in 0..rounds {
        let started = Instant::now();
        for (path, html) in &pages {
            let text = threatdesk_text::extract_article(html, None)
                .map(|a| a.text)
                .unwrap_or_default();
            if round == 0 {
                texts.insert(path.clone(), text);
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    let out = serde_json::json!({"bytes": bytes, "seconds": best, "rounds": rounds, "texts": texts});
    println!("{out}");
}
