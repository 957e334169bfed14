//! Store insert + full-text indexing throughput, and search latency, at 10,000 items.
//!
//! Items are synthetic but report-shaped: ~350 words (~2.4 KB) drawn with a Zipf-like
//! skew from a CTI vocabulary plus generated filler words, so the index has realistic
//! term statistics. Everything is seeded: two runs index identical data.
//!
//! Run: `cargo bench -p threatdesk-store --bench store`.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use threatdesk_model::{NewItem, NewSource, Source, SourceKind, Tlp};
use threatdesk_store::{DocumentFilter, SearchQuery, SearchScope, SqliteStore, Store};

const ITEMS: usize = 10_000;
const WORDS_PER_ITEM: usize = 350;
/// Items per transaction, as `threatdesk ingest` batches them by default.
const BATCH: usize = 256;

const CTI_WORDS: &[&str] = &[
    "ransomware",
    "phishing",
    "lazarus",
    "apt28",
    "sofacy",
    "turla",
    "emotet",
    "qakbot",
    "loader",
    "backdoor",
    "exploit",
    "vulnerability",
    "credential",
    "lateral",
    "movement",
    "exfiltration",
    "persistence",
    "beacon",
    "cobalt",
    "strike",
    "domain",
    "infrastructure",
    "campaign",
    "victim",
    "government",
    "healthcare",
    "energy",
    "finance",
    "ukraine",
    "russia",
    "china",
    "iran",
    "korea",
    "espionage",
    "wiper",
    "botnet",
    "ddos",
    "malware",
    "payload",
    "dropper",
    "macro",
    "powershell",
    "registry",
    "scheduled",
    "task",
    "encryption",
    "extortion",
    "affiliate",
    "operator",
    "threat",
    "actor",
    "attack",
    "network",
    "server",
    "command",
    "control",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Zipf-like: small indexes are much more likely.
    fn skewed(&mut self, n: usize) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

fn vocabulary() -> Vec<String> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let syllables = [
        "ka", "ro", "ten", "mi", "sul", "dra", "vex", "lo", "qui", "ban", "tor", "el", "zy", "pha",
    ];
    let mut words: Vec<String> = Vec::with_capacity(5_000);
    while words.len() < 5_000 - CTI_WORDS.len() {
        let parts = 2 + rng.next() as usize % 3;
        words.push(
            (0..parts)
                .map(|_| syllables[rng.next() as usize % syllables.len()])
                .collect(),
        );
    }
    // Domain words sit at mid ranks, as in real reports: frequent, but not stop-word frequent.
    for (k, word) in CTI_WORDS.iter().enumerate() {
        words.insert(40 + k * 60, (*word).to_owned());
    }
    words
}

fn synthetic_items(source: &Source, count: usize, seed: u64) -> Vec<NewItem> {
    let vocab = vocabulary();
    let mut rng = Rng(seed | 1);
    (0..count)
        .map(|i| {
            let title: Vec<&str> = (0..8).map(|_| vocab[rng.skewed(vocab.len())].as_str()).collect();
            let mut text = String::with_capacity(WORDS_PER_ITEM * 8);
            for w in 0..WORDS_PER_ITEM {
                if w > 0 {
                    text.push(if w % 17 == 0 { '\n' } else { ' ' });
                }
                text.push_str(&vocab[rng.skewed(vocab.len())]);
            }
            if i % 100 == 0 {
                text.push_str(" CVE-2024-3400 exploited in the wild");
            }
            let title = title.join(" ");
            NewItem {
                source_id: source.id,
                canonical_url: format!("https://reports.test/{seed}/{i}"),
                original_url: None,
                guid: None,
                content_hash: threatdesk_text::content_hash(&title, &text),
                title,
                author: None,
                published_at: Utc.timestamp_opt(1_700_000_000 + i as i64 * 600, 0).single(),
                fetched_at: Utc::now(),
                language: Some("eng".to_owned()),
                text,
                html: None,
                tlp: Tlp::Clear,
            }
        })
        .collect()
}

fn fresh_store() -> (tempfile::TempDir, SqliteStore, Source) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("bench.db")).expect("open");
    let source = store
        .ensure_source(&NewSource::new("bench", SourceKind::File, ""))
        .expect("source");
    (dir, store, source)
}

fn insert(c: &mut Criterion) {
    let (_template_dir, _template, source) = fresh_store();
    let items = synthetic_items(&source, ITEMS, 42);
    let bytes: usize = items.iter().map(|i| i.text.len()).sum();
    eprintln!(
        "synthetic corpus: {ITEMS} items, {:.1} MB of text",
        bytes as f64 / 1e6
    );

    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.bench_function("upsert_10k_items_with_fts", |b| {
        b.iter_batched(
            fresh_store,
            |(dir, store, _)| {
                for batch in items.chunks(BATCH) {
                    black_box(store.upsert_items(batch).expect("upsert"));
                }
                (dir, store)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn search(c: &mut Criterion) {
    let (_dir, store, source) = fresh_store();
    for batch in synthetic_items(&source, ITEMS, 7).chunks(BATCH) {
        store.upsert_items(batch).expect("upsert");
    }
    let queries = [
        ("common_word", "ransomware"),
        ("two_words", "lazarus exploit"),
        ("rare_phrase", "\"CVE-2024-3400\""),
        ("prefix", "ransom*"),
        ("or_and_not", "turla OR sofacy -wiper"),
    ];
    let mut group = c.benchmark_group("search_10k");
    for (name, text) in queries {
        let query = SearchQuery {
            text: text.to_owned(),
            scope: SearchScope::Items,
            ..Default::default()
        };
        let total = store.search(&query).expect("search").total;
        eprintln!("query {text:?}: {total} matches");
        group.bench_function(name, |b| {
            b.iter(|| black_box(store.search(&query).expect("search")))
        });
    }
    let filtered = SearchQuery {
        text: "ransomware".to_owned(),
        documents: DocumentFilter {
            source_ids: vec![source.id],
            since: Utc.timestamp_opt(1_700_000_000 + 5_000 * 600, 0).single(),
            ..Default::default()
        },
        ..Default::default()
    };
    let total = store.search(&filtered).expect("search").total;
    eprintln!("query \"ransomware\" since item 5,000: {total} matches");
    group.bench_function("common_word_filtered", |b| {
        b.iter(|| black_box(store.search(&filtered).expect("search")))
    });
    group.finish();
}

criterion_group!(benches, insert, search);
criterion_main!(benches);
