//! Extraction throughput over real report text: the AnnoCTR reports in `../shared`
//! (train and dev, ≈1 MB), and over an indicator-dense synthetic text; indicators alone,
//! and indicators with entities (the built-in knowledge base); and the time to load the
//! built-in knowledge base and build its recogniser.
//!
//! Run: `cargo bench -p threatdesk-extract --bench extract`.

use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use threatdesk_extract::Recognizer;
use threatdesk_kb::KnowledgeBase;

/// Indicators and entities, as `threatdesk extract` and ingestion run them.
fn extract_all(recognizer: &Recognizer, text: &str) -> usize {
    let iocs = threatdesk_extract::extract(text);
    iocs.len() + recognizer.find(text, &iocs).len()
}

fn annoctr_corpus() -> Option<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/ner/annoctr/text");
    let mut files: Vec<PathBuf> = ["train", "dev"]
        .iter()
        .filter_map(|split| std::fs::read_dir(root.join(split)).ok())
        .flatten()
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let texts: Vec<String> = files
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n\n"))
}

fn dense_corpus() -> String {
    let block = "Stage two fetched hxxp://update-check[.]example/api/v2?id=7 from 185.220.101[.]4 and \
                 45.77.12.3:8443, dropped C:\\Users\\Public\\svchost.exe (md5 68b329da9893e34099c7d8ad5cb9c940, \
                 sha256 01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b) and wrote \
                 HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run. It exploits CVE-2024-3400 (T1190) \
                 and mails ops[at]evil-mail[.]ru; ransom goes to 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa.\n";
    block.repeat(2_000)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("extract");
    if let Some(corpus) = annoctr_corpus() {
        eprintln!(
            "annoctr corpus: {:.2} MB, {} findings",
            corpus.len() as f64 / 1e6,
            threatdesk_extract::extract(&corpus).len()
        );
        group.throughput(Throughput::Bytes(corpus.len() as u64));
        group.bench_function("annoctr_reports", |b| {
            b.iter(|| black_box(threatdesk_extract::extract(black_box(&corpus))))
        });
        let recognizer = Recognizer::builtin();
        eprintln!("with entities: {} findings", extract_all(recognizer, &corpus));
        group.bench_function("annoctr_reports_with_entities", |b| {
            b.iter(|| black_box(extract_all(recognizer, black_box(&corpus))))
        });
    } else {
        eprintln!("skipping annoctr_reports: ../shared not found");
    }
    let dense = dense_corpus();
    group.throughput(Throughput::Bytes(dense.len() as u64));
    group.bench_function("dense_indicators", |b| {
        b.iter(|| black_box(threatdesk_extract::extract(black_box(&dense))))
    });
    group.bench_function("dense_indicators_with_entities", |b| {
        b.iter(|| black_box(extract_all(Recognizer::builtin(), black_box(&dense))))
    });
    group.finish();

    let mut load = c.benchmark_group("knowledge_base");
    load.sample_size(20);
    load.bench_function("parse_builtin", |b| {
        b.iter(|| black_box(KnowledgeBase::parse_builtin().len()))
    });
    let table = include_str!("../data/builtin-recognizer.tsv");
    load.bench_function("builtin_recognizer_from_table", |b| {
        b.iter(|| black_box(Recognizer::from_table(table).map(|r| r.stats().patterns)))
    });
    let kb = KnowledgeBase::parse_builtin();
    load.bench_function("build_recognizer_from_kb", |b| {
        b.iter(|| black_box(Recognizer::new(&kb)))
    });
    load.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
