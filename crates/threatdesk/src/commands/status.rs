//! `threatdesk status`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use serde::Serialize;
use threatdesk_store::{Newsletter, SCHEMA_VERSION, Store, StoreStats};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs};
use crate::config::{Config, DataDir};
use crate::output::print_json;

#[derive(Serialize)]
struct StatusReport {
    version: &'static str,
    data_dir: String,
    config_file: Option<String>,
    database: String,
    database_bytes: u64,
    schema_version_supported: u32,
    store: StoreStats,
    /// Sources by health state (`healthy`, `degraded`, `failing`, `disabled`, `new`).
    source_health: BTreeMap<&'static str, u32>,
    /// What story clustering compares: lexical vectors, and embeddings when a model is there.
    clustering: String,
    /// Newsletter subscriptions by state (`active`, `pending`, `unsubscribed`).
    subscriptions: BTreeMap<&'static str, u32>,
    /// Newsletter messages by status (`queued`, `sent`, `failed`, …).
    mail: BTreeMap<String, u64>,
    config: Config,
}

/// Shows where the data lives, the effective configuration and what is stored.
pub fn run(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let config = data.load_config()?;
    let store = super::open_existing(data)?;
    let database_bytes = ["", "-wal"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", data.database().display())).ok())
        .map(|m| m.len())
        .sum();
    let mut source_health = BTreeMap::new();
    for (_, health) in store.list_source_health()? {
        *source_health.entry(health.state.as_str()).or_insert(0) += 1;
    }
    let (_, clustering) = super::stories::embedding_model(data, &config.embeddings);
    let mut subscriptions = BTreeMap::new();
    for s in store.list_subscriptions()? {
        *subscriptions.entry(s.state()).or_insert(0) += 1;
    }
    let report = StatusReport {
        version: env!("CARGO_PKG_VERSION"),
        data_dir: data.root().display().to_string(),
        config_file: Some(data.config_file())
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string()),
        database: data.database().display().to_string(),
        database_bytes,
        schema_version_supported: SCHEMA_VERSION,
        store: store.stats()?,
        source_health,
        clustering,
        subscriptions,
        mail: store.mail_counts()?,
        config,
    };
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv | Format::Stix | Format::Misp => print_json(&report)?,
        Format::Text => {
            crate::outln!("threatdesk {}", report.version);
            crate::outln!("Data folder:   {}", report.data_dir);
            crate::outln!(
                "Configuration: {}",
                report.config_file.as_deref().unwrap_or("(none; defaults in use)")
            );
            crate::outln!(
                "Database:      {} ({:.1} MB)",
                report.database,
                report.database_bytes as f64 / 1e6
            );
            crate::outln!("Schema:        version {}", report.store.schema_version);
            crate::outln!(
                "Stored:        {} sources, {} items, {} bulletins",
                report.store.sources,
                report.store.items,
                report.store.bulletins
            );
            crate::outln!("Clustering:    {}", report.clustering);
            if !report.source_health.is_empty() {
                let states: Vec<String> = report
                    .source_health
                    .iter()
                    .map(|(state, n)| format!("{n} {state}"))
                    .collect();
                crate::outln!("Sources:       {} (`threatdesk sources list`)", states.join(", "));
            }
            if !report.subscriptions.is_empty() || !report.mail.is_empty() {
                let counts = |pairs: Vec<String>| {
                    if pairs.is_empty() {
                        "none".to_owned()
                    } else {
                        pairs.join(", ")
                    }
                };
                let subscriptions = report
                    .subscriptions
                    .iter()
                    .map(|(k, n)| format!("{n} {k}"))
                    .collect();
                let mail = report.mail.iter().map(|(k, n)| format!("{n} {k}")).collect();
                let sending = if report.config.newsletter.smtp_url.trim().is_empty() {
                    "; newsletter.smtp_url is not set, nothing is sent"
                } else {
                    ""
                };
                crate::outln!(
                    "Newsletter:    subscriptions {}; messages {}{sending} (`threatdesk newsletter log`)",
                    counts(subscriptions),
                    counts(mail)
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
