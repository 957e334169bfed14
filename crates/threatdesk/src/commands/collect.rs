//! `threatdesk collect`: feeds and web pages into the store, on schedule or once.
//!
//! Each round takes the enabled feed and page sources that are due, collects up to
//! `collect.source_concurrency` of them at a time (the fetcher's per-host limits apply
//! across all of them), extracts indicators and entities from every new or changed item,
//! and records each source's run in one transaction: items, findings, entries seen,
//! problems and the source's next attempt.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream;
use serde::Serialize;
use threatdesk_collect::http::Fetcher;
use threatdesk_collect::schedule::next_attempt;
use threatdesk_collect::web::{RunOutcome, SourceRun, WebConfig, collect_source};
use threatdesk_extract::Recognizer;
use threatdesk_model::{ContentHash, Finding, NewItem, Source, SourceHealth, SourceId, SourceKind};
use threatdesk_store::{CollectionProblem, CollectionRun, SeenEntry, Store, UpsertOutcome};

use crate::cli::{CollectArgs, Format, GlobalArgs};
use crate::config::DataDir;
use crate::{EXIT_OK, EXIT_PARTIAL};

/// The longest the scheduler sleeps before looking at the sources again (new sources,
/// changed settings and other processes' work are picked up this often).
const MAX_NAP: Duration = Duration::from_secs(60);

/// The async runtime for collection: two worker threads are plenty for network waits.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// What one source's collection did.
#[derive(Debug, Serialize)]
struct SourceReport {
    source: String,
    source_id: SourceId,
    /// `collected`, `not_modified` or `failed`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    entries: u32,
    new: u32,
    updated: u32,
    unchanged: u32,
    duplicates: u32,
    findings: u64,
    /// Stories its new items started.
    new_stories: u64,
    problems: Vec<threatdesk_collect::web::Problem>,
    consecutive_failures: u32,
    next_attempt_at: DateTime<Utc>,
    elapsed_ms: u128,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    sources: u32,
    failed: u32,
    new: u32,
    updated: u32,
    problems: u32,
}

#[derive(Debug, Serialize)]
struct CollectReport {
    totals: Totals,
    sources: Vec<SourceReport>,
}

/// Everything a round needs.
struct Collector<'a> {
    store: &'a dyn Store,
    config: &'a WebConfig,
    fetcher: Fetcher,
    recognizer: &'a Recognizer,
    clusterer: std::cell::RefCell<super::stories::Clusterer>,
}

pub fn run(data: &DataDir, global: &GlobalArgs, args: CollectArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let config = data.load_config()?;
    let only = super::resolve_sources(&store, &args.sources)?;
    let knowledge = super::kb::Knowledge::load(data)?;
    let recognizer = knowledge.recognizer();
    let collector = Collector {
        store: &store,
        config: &config.collect,
        fetcher: Fetcher::new(config.http.clone())?,
        recognizer: &recognizer,
        clusterer: std::cell::RefCell::new(super::stories::Clusterer::open(&store, data, &config)?),
    };
    let runtime = runtime()?;
    if args.once {
        let progress = super::ingest::progress_bar(global, collector.due(&only, true)?.len() as u64);
        let mut report = CollectReport {
            totals: Totals::default(),
            sources: Vec::new(),
        };
        runtime.block_on(collector.round(&only, true, |source_report| {
            progress.suspend(|| print_source(global, &source_report));
            progress.inc(1);
            report.sources.push(source_report);
        }))?;
        progress.finish_and_clear();
        report.totals = totals(&report.sources);
        if global.format == Format::Text {
            let t = &report.totals;
            crate::outln!(
                "Collected {} source(s): {} failed, {} new item(s), {} updated, {} problem(s).",
                t.sources,
                t.failed,
                t.new,
                t.updated,
                t.problems
            );
        } else {
            crate::output::print_json(&report)?;
        }
        let clean = report.totals.failed == 0 && report.totals.problems == 0;
        return Ok(ExitCode::from(if clean { EXIT_OK } else { EXIT_PARTIAL }));
    }
    if !global.quiet {
        eprintln!("threatdesk: collecting on schedule; Ctrl-C stops");
    }
    runtime.block_on(async {
        loop {
            collector
                .round(&only, false, |source_report| {
                    print_source(global, &source_report);
                    if global.format != Format::Text
                        && let Ok(line) = serde_json::to_string(&source_report)
                    {
                        let _ = writeln!(std::io::stdout(), "{line}");
                    }
                })
                .await?;
            let nap = collector.until_next_due(&only)?;
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                _ = tokio::signal::ctrl_c() => {
                    if !global.quiet {
                        eprintln!("threatdesk: stopped");
                    }
                    return Ok::<_, anyhow::Error>(());
                }
            }
        }
    })?;
    Ok(ExitCode::from(EXIT_OK))
}

/// Collects every enabled source on its schedule until `stop` changes: `serve`'s background
/// worker, on a thread of its own. Each source's outcome is logged; a round that fails is
/// logged and tried again after a nap. Stopping drops the fetches in flight; every source
/// already fetched was stored in its own transaction, so nothing is half-written.
pub(crate) fn background(data: &DataDir, mut stop: tokio::sync::watch::Receiver<bool>) -> anyhow::Result<()> {
    let store = super::open_existing(data)?;
    let config = data.load_config()?;
    let knowledge = super::kb::Knowledge::load(data)?;
    let recognizer = knowledge.recognizer();
    let collector = Collector {
        store: &store,
        config: &config.collect,
        fetcher: Fetcher::new(config.http.clone())?,
        recognizer: &recognizer,
        clusterer: std::cell::RefCell::new(super::stories::Clusterer::open(&store, data, &config)?),
    };
    runtime()?.block_on(async {
        loop {
            let round = collector.round(&[], false, |report| {
                tracing::info!(
                    source = %report.source,
                    outcome = report.outcome,
                    new = report.new,
                    updated = report.updated,
                    problems = report.problems.len(),
                    "collected"
                );
            });
            tokio::select! {
                result = round => {
                    if let Err(error) = result {
                        tracing::warn!(error = %format!("{error:#}"), "a collection round failed");
                    }
                }
                _ = stop.changed() => return,
            }
            let nap = collector.until_next_due(&[]).unwrap_or(MAX_NAP);
            tokio::select! {
                () = tokio::time::sleep(nap) => {}
                _ = stop.changed() => return,
            }
        }
    });
    Ok(())
}

impl Collector<'_> {
    /// The sources to collect now: enabled feeds and pages (of `only`, when given) that are
    /// due, or all of them when `all`.
    fn due(&self, only: &[SourceId], all: bool) -> anyhow::Result<Vec<(Source, SourceHealth)>> {
        let now = Utc::now();
        Ok(self
            .collectable(only)?
            .filter(|(_, h)| all || h.next_attempt_at.is_none_or(|t| t <= now))
            .collect())
    }

    /// The feeds and pages `collect` looks after: those of `only` (disabled ones too, as they
    /// were named), else every enabled one.
    fn collectable(&self, only: &[SourceId]) -> anyhow::Result<impl Iterator<Item = (Source, SourceHealth)>> {
        let only = only.to_vec();
        Ok(self
            .store
            .list_source_health()?
            .into_iter()
            .filter(|(s, _)| matches!(s.spec.kind, SourceKind::Feed | SourceKind::WebPage))
            .filter(move |(s, _)| {
                if only.is_empty() {
                    s.spec.enabled
                } else {
                    only.contains(&s.id)
                }
            }))
    }

    /// How long until the next source is due (at most [`MAX_NAP`]).
    fn until_next_due(&self, only: &[SourceId]) -> anyhow::Result<Duration> {
        let now = Utc::now();
        let next = self
            .collectable(only)?
            .filter_map(|(_, h)| h.next_attempt_at)
            .min();
        Ok(match next {
            Some(at) => (at - now).to_std().unwrap_or_default().min(MAX_NAP),
            None => MAX_NAP,
        })
    }

    /// Collects the due sources, storing and reporting each one as it finishes.
    async fn round(
        &self,
        only: &[SourceId],
        all: bool,
        mut on_report: impl FnMut(SourceReport),
    ) -> anyhow::Result<()> {
        let due = self.due(only, all)?;
        let mut runs = stream::iter(due)
            .map(|(source, health)| async move {
                let started = Instant::now();
                let validators = threatdesk_collect::http::Validators {
                    etag: health.etag.clone(),
                    last_modified: health.last_modified.clone(),
                };
                let store = self.store;
                let id = source.id;
                let seen = move |identities: &[String]| {
                    store.seen_entries(id, identities).unwrap_or_else(|error| {
                        tracing::warn!(%error, "Cannot read the entries seen; fetching all again");
                        Default::default()
                    })
                };
                let run = collect_source(&self.fetcher, self.config, &source, Some(&validators), &seen).await;
                (source, health, run, started)
            })
            .buffer_unordered(self.config.source_concurrency.max(1));
        while let Some((source, health, run, started)) = runs.next().await {
            let mut report = self.persist(&source, &health, run, started)?;
            if report.new + report.updated > 0 {
                let clustered = self.clusterer.borrow_mut().cluster_pending(self.store)?;
                report.new_stories = clustered.new_stories;
            }
            on_report(report);
        }
        Ok(())
    }

    /// Extracts from the run's items and records the run in one transaction.
    fn persist(
        &self,
        source: &Source,
        health: &SourceHealth,
        run: SourceRun,
        started: Instant,
    ) -> anyhow::Result<SourceReport> {
        let (outcome, http_status, error, validators, retry_after) = match &run.outcome {
            RunOutcome::Fetched { status, validators } => (
                "collected",
                Some(*status),
                None,
                Some((validators.etag.clone(), validators.last_modified.clone())),
                None,
            ),
            RunOutcome::NotModified => ("not_modified", Some(304), None, None, None),
            RunOutcome::Failed {
                kind,
                message,
                status,
                retry_after,
            } => (
                "failed",
                *status,
                Some((kind.clone(), message.clone())),
                None,
                *retry_after,
            ),
        };
        let failures = if error.is_some() {
            health.consecutive_failures.saturating_add(1)
        } else {
            0
        };
        let interval = source
            .spec
            .poll_interval_secs
            .unwrap_or(self.config.default_interval_secs);
        let next = next_attempt(Utc::now(), interval, failures, retry_after);
        let mut problems: Vec<CollectionProblem> = run
            .problems
            .iter()
            .map(|p| CollectionProblem {
                at: run.started_at,
                kind: p.kind.to_owned(),
                input: p.input.clone(),
                reason: p.reason.clone(),
            })
            .collect();
        if let Some((kind, message)) = &error {
            problems.push(CollectionProblem {
                at: run.started_at,
                kind: "fetch_failed".to_owned(),
                input: source.spec.location.clone(),
                reason: format!("{kind}: {message}"),
            });
        }
        let items: Vec<(NewItem, Vec<Finding>)> = run
            .items
            .iter()
            .map(|c| {
                let findings = super::ingest::extract_findings(&c.item.text, self.recognizer);
                (c.item.clone(), findings)
            })
            .collect();
        let seen: Vec<SeenEntry> = run
            .items
            .iter()
            .filter_map(|c| c.entry.clone())
            .map(|(identity, hash): (String, ContentHash)| SeenEntry { identity, hash })
            .collect();
        let record = CollectionRun {
            source_id: source.id,
            attempted_at: run.started_at,
            http_status,
            error: error.clone(),
            validators,
            next_attempt_at: Some(next),
            entries: run.entries,
            problems,
        };
        let outcomes = self.store.record_collection(&record, &items, &seen)?;
        let mut report = SourceReport {
            source: source.spec.name.clone(),
            source_id: source.id,
            outcome,
            http_status,
            error: error.map(|(kind, message)| format!("{kind}: {message}")),
            entries: run.entries,
            new: 0,
            updated: 0,
            unchanged: run.unchanged_entries,
            duplicates: 0,
            findings: 0,
            new_stories: 0,
            problems: run.problems,
            consecutive_failures: failures,
            next_attempt_at: next,
            elapsed_ms: started.elapsed().as_millis(),
        };
        for (outcome, (_, findings)) in outcomes.iter().zip(&items) {
            match outcome {
                UpsertOutcome::Inserted { .. } => report.new += 1,
                UpsertOutcome::Updated { .. } => report.updated += 1,
                UpsertOutcome::Unchanged { .. } => report.unchanged += 1,
                UpsertOutcome::Duplicate { .. } => report.duplicates += 1,
            }
            if matches!(
                outcome,
                UpsertOutcome::Inserted { .. } | UpsertOutcome::Updated { .. }
            ) {
                report.findings += findings.len() as u64;
            }
        }
        Ok(report)
    }
}

fn totals(reports: &[SourceReport]) -> Totals {
    let mut t = Totals::default();
    for r in reports {
        t.sources += 1;
        t.failed += u32::from(r.outcome == "failed");
        t.new += r.new;
        t.updated += r.updated;
        t.problems += u32::try_from(r.problems.len()).unwrap_or(u32::MAX);
    }
    t
}

/// One line per source on stdout (text format); problems on stderr.
fn print_source(global: &GlobalArgs, r: &SourceReport) {
    if global.format == Format::Text {
        let line = match r.outcome {
            "failed" => format!(
                "{}: failed: {} ({} failure(s) in a row; next try {})",
                r.source,
                r.error.as_deref().unwrap_or_default(),
                r.consecutive_failures,
                r.next_attempt_at.format("%Y-%m-%d %H:%M UTC")
            ),
            "not_modified" => format!("{}: not modified", r.source),
            _ => format!(
                "{}: {} entries, {} new, {} updated, {} unchanged, {} duplicate(s), {} finding(s) ({:.1} s)",
                r.source,
                r.entries,
                r.new,
                r.updated,
                r.unchanged,
                r.duplicates,
                r.findings,
                r.elapsed_ms as f64 / 1000.0
            ),
        };
        // A closed stdout must not stop collection; the store has the record.
        let _ = writeln!(std::io::stdout(), "{line}");
    }
    if !global.quiet {
        for p in &r.problems {
            eprintln!("threatdesk: {}: {}: {}: {}", p.kind, r.source, p.input, p.reason);
        }
    }
}
