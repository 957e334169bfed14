//! In-process extraction throughput over files, measured the way the peer benchmark
//! (`scripts/bench-ioc-peers.sh`) measures the Python libraries: every text is read into
//! memory first, one untimed warm-up call, then each round extracts from every text, and
//! the best round counts.
//!
//! `cargo run --release -p threatdesk-extract --example timing -- [--rounds N] [--json] [--entities] FILE...`
//!
//! `--entities` also runs the built-in entity recogniser on each text (its start-up is
//! outside the timed rounds), as `threatdesk extract` does.
//!
//! Prints MB/s (MB = 10^6 bytes) per round, or with `--json` one object
//! `{"bytes", "seconds", "findings", "rounds"}` for the best round.

use std::time::Instant;

fn main() {
    let mut rounds = 10usize;
    let mut json = false;
    let mut entities = false;
    let mut paths = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--entities" => entities = true,
            "--rounds" => rounds = args.next().and_then(|r| r.parse().ok()).unwrap_or(rounds).max(1),
            _ => paths.push(arg),
        }
    }
    let texts: Vec<String> = paths
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let recognizer = entities.then(threatdesk_extract::Recognizer::builtin);
    let run = |text: &str| -> usize {
        let iocs = threatdesk_extract::extract(text);
        let mentions = recognizer.map_or(0, |r| r.find(text, &iocs).len());
        iocs.len() + mentions
    };
    if let Some(first) = texts.first() {
        std::hint::black_box(run(first));
    }
    let mut best = f64::INFINITY;
    let mut findings = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        findings = texts
            .iter()
            .map(|text| std::hint::black_box(run(text)))
            .sum::<usize>();
        let seconds = started.elapsed().as_secs_f64();
        best = best.min(seconds);
        if !json {
            println!(
                "{:.2} MB in {} texts: {:.0} MB/s ({findings} findings)",
                bytes as f64 / 1e6,
                texts.len(),
                bytes as f64 / 1e6 / seconds
            );
        }
    }
    if json {
        println!(r#"{{"bytes": {bytes}, "seconds": {best}, "findings": {findings}, "rounds": {rounds}}}"#);
    }
}
