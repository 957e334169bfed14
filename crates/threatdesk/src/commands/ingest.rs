//! `threatdesk ingest`: local files into the store, in batches, with a report for every input.

use std::process::ExitCode;
use std::time::Instant;

use chrono::Utc;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use threatdesk_collect::Rejection;
use threatdesk_collect::files::{self, Collected, Input};
use threatdesk_extract::Recognizer;
use threatdesk_model::{Finding, FindingKind, ItemId, NewSource, SourceKind, Span};
use threatdesk_store::{Store, UpsertOutcome};

use super::stories::{ClusterReport, Clusterer, Pending};
use crate::cli::{Format, GlobalArgs, IngestArgs};
use crate::config::DataDir;
use crate::{EXIT_OK, EXIT_PARTIAL};

/// What happened to one input.
#[derive(Debug, Serialize)]
struct FileReport {
    input: String,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_id: Option<ItemId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<String>,
}

#[derive(Debug, Default, Serialize)]
struct Totals {
    inputs: u64,
    inserted: u64,
    updated: u64,
    unchanged: u64,
    duplicates: u64,
    rejected: u64,
    skipped_hidden: u64,
    /// Indicators and entity mentions extracted from new and changed items.
    findings: u64,
    /// Of those, entity mentions (actors, malware, countries, techniques…).
    entity_mentions: u64,
}

#[derive(Debug, Serialize)]
struct IngestReport {
    data_dir: String,
    source: String,
    totals: Totals,
    stories: ClusterReport,
    elapsed_ms: u128,
    files: Vec<FileReport>,
}

/// Reads every input; stores good ones batch by batch; reports bad ones and carries on.
pub fn run(data: &DataDir, global: &GlobalArgs, args: IngestArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if !data.is_initialised() {
        data.create()?;
        tracing::info!(path = %data.root().display(), "Created data folder");
    }
    let full_config = data.load_config()?;
    let mut config = full_config.ingest.clone();
    if let Some(source) = args.source {
        config.source = source;
    }
    if let Some(max) = args.max_file_bytes {
        config.max_file_bytes = max;
    }
    config.include_hidden |= args.include_hidden;
    let files_config = config.files();

    let store = super::open_store(data)?;
    let knowledge = super::kb::Knowledge::load(data)?;
    let recognizer = knowledge.recognizer();
    let mut spec = NewSource::new(&config.source, SourceKind::File, "local files");
    spec.default_tlp = config.default_tlp;
    let source = store.ensure_source(&spec)?;
    let mut clusterer = Clusterer::open(&store, data, &full_config)?;

    let inputs: Vec<Input> = args.paths.iter().map(|p| Input::from_arg(p)).collect();
    let discovery = files::discover(&inputs, &files_config);
    let progress = progress_bar(global, discovery.candidates.len() as u64);

    let mut report = IngestReport {
        data_dir: data.root().display().to_string(),
        source: source.spec.name.clone(),
        totals: Totals {
            skipped_hidden: discovery.skipped_hidden,
            ..Default::default()
        },
        stories: ClusterReport::default(),
        elapsed_ms: 0,
        files: Vec::new(),
    };
    for rejection in discovery.rejections {
        record_rejection(&mut report, &progress, global, rejection);
    }

    let batch_size = config.batch_size.max(1);
    let mut batch: Vec<Prepared> = Vec::with_capacity(batch_size);
    // Two stages: a reading thread reads files a batch at a time on every core (main text,
    // findings, clustering features) while this one stores the batch before and places its
    // items in stories. What comes back is reported and stored in input order.
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let (source, files_config, recognizer) = (&source, &files_config, &recognizer);
        let candidates = &discovery.candidates;
        scope.spawn(move || {
            for candidates in candidates.chunks(batch_size) {
                let results: Vec<_> = candidates
                    .par_iter()
                    .map(|candidate| {
                        files::collect(candidate, source, files_config, Utc::now())
                            .map(|collected| Prepared::of(collected, recognizer))
                    })
                    .collect();
                // The storing side stopped on an error: nothing more to read.
                if sender.send((candidates, results)).is_err() {
                    break;
                }
            }
        });
        for (candidates, results) in receiver {
            for (candidate, result) in candidates.iter().zip(results) {
                progress.set_message(candidate.display_name());
                match result {
                    Ok(mut prepared) => {
                        if let Some(tlp) = args.tlp {
                            prepared.collected.item.tlp = tlp;
                        }
                        for note in &prepared.collected.notes {
                            if !global.quiet {
                                progress.suspend(|| {
                                    eprintln!("threatdesk: note: {}: {note}", prepared.collected.input)
                                });
                            }
                        }
                        batch.push(prepared);
                        if batch.len() >= batch_size {
                            store_batch(&store, &mut clusterer, &mut batch, &mut report)?;
                        }
                    }
                    Err(rejection) => record_rejection(&mut report, &progress, global, rejection),
                }
                progress.inc(1);
            }
        }
        Ok(())
    })?;
    store_batch(&store, &mut clusterer, &mut batch, &mut report)?;
    progress.finish_and_clear();
    // Items an interrupted earlier run stored but did not place.
    report.stories.add(clusterer.cluster_pending(&store)?);

    report.totals.inputs = report.files.len() as u64;
    report.elapsed_ms = started.elapsed().as_millis();
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv | Format::Stix | Format::Misp => {
            crate::output::print_json(&report)?
        }
        Format::Text => print_summary(&report)?,
    }
    Ok(ExitCode::from(if report.totals.rejected > 0 {
        EXIT_PARTIAL
    } else {
        EXIT_OK
    }))
}

/// A file read and its text extracted, with its findings and clustering features.
struct Prepared {
    collected: Collected,
    findings: Vec<Finding>,
    pending: Pending,
}

impl Prepared {
    fn of(collected: Collected, recognizer: &Recognizer) -> Self {
        // Extraction is cheap next to storage; doing it for unchanged items too lets each
        // item and its findings be stored in one transaction.
        let findings = extract_findings(&collected.item.text, recognizer);
        let pending = Pending::of_new(&collected.item, &findings);
        Self {
            collected,
            findings,
            pending,
        }
    }
}

/// Stores a batch in one transaction, then places its new items in stories.
fn store_batch(
    store: &dyn Store,
    clusterer: &mut Clusterer,
    batch: &mut Vec<Prepared>,
    report: &mut IngestReport,
) -> anyhow::Result<()> {
    if batch.is_empty() {
        return Ok(());
    }
    let mut items = Vec::with_capacity(batch.len());
    let mut rest = Vec::with_capacity(batch.len());
    for prepared in std::mem::take(batch) {
        let Collected {
            input, item, notes, ..
        } = prepared.collected;
        items.push((item, prepared.findings));
        rest.push((input, notes, prepared.pending));
    }
    let outcomes = store.upsert_items_with_findings(&items)?;
    let mut to_place = Vec::new();
    for (((input, notes, mut pending), (_, findings)), outcome) in rest.into_iter().zip(&items).zip(outcomes)
    {
        let outcome_name = match outcome {
            UpsertOutcome::Inserted { id } => {
                report.totals.inserted += 1;
                // New items wait in the store's clustering queue until this places them.
                pending.features.item = id;
                to_place.push(pending);
                "inserted"
            }
            UpsertOutcome::Updated { .. } => {
                report.totals.updated += 1;
                "updated"
            }
            UpsertOutcome::Unchanged { .. } => {
                report.totals.unchanged += 1;
                "unchanged"
            }
            UpsertOutcome::Duplicate { .. } => {
                report.totals.duplicates += 1;
                "duplicate"
            }
        };
        if matches!(
            outcome,
            UpsertOutcome::Inserted { .. } | UpsertOutcome::Updated { .. }
        ) {
            report.totals.findings += findings.len() as u64;
            report.totals.entity_mentions += findings
                .iter()
                .filter(|f| f.kind == FindingKind::EntityMention)
                .count() as u64;
        }
        tracing::info!(input = %input, outcome = outcome_name, item = %outcome.item_id(), "Stored");
        report.files.push(FileReport {
            input,
            outcome: outcome_name,
            item_id: Some(outcome.item_id()),
            reason: None,
            notes,
        });
    }
    report.stories.add(clusterer.place(store, to_place)?);
    Ok(())
}

/// Indicators and entity mentions in an item's text, as findings (benign indicators
/// included, flagged). An entity mention's value is the entity's canonical name, its
/// `entity_ids` the knowledge-base id, its flags `entity:<kind>` and the ATT&CK id if any.
/// The item has no id yet: the store sets `item_id` when it writes them.
pub(crate) fn extract_findings(text: &str, recognizer: &Recognizer) -> Vec<Finding> {
    let iocs = threatdesk_extract::extract(text);
    let mentions = recognizer.find(text, &iocs);
    let mut findings: Vec<Finding> = iocs
        .into_iter()
        .map(|ioc| Finding {
            item_id: ItemId(0),
            kind: ioc.kind,
            value: ioc.value,
            text: ioc.text,
            span: Span {
                start: ioc.start,
                end: ioc.end,
            },
            confidence: 1.0,
            entity_ids: Vec::new(),
            flags: ioc.flags.names().map(str::to_owned).collect(),
        })
        .collect();
    findings.extend(mentions.into_iter().map(|mention| {
        let mut flags = vec![format!("entity:{}", mention.kind.as_str())];
        flags.extend(mention.ids.get("attack").map(|id| format!("attack:{id}")));
        Finding {
            item_id: ItemId(0),
            kind: FindingKind::EntityMention,
            value: mention.value.to_string(),
            text: mention.text,
            span: Span {
                start: mention.start,
                end: mention.end,
            },
            confidence: mention.confidence,
            entity_ids: vec![mention.entity],
            flags,
        }
    }));
    findings
}

fn record_rejection(
    report: &mut IngestReport,
    progress: &ProgressBar,
    global: &GlobalArgs,
    rejection: Rejection,
) {
    report.totals.rejected += 1;
    if global.format == Format::Text {
        progress.suspend(|| eprintln!("threatdesk: rejected: {rejection}"));
    }
    report.files.push(FileReport {
        input: rejection.input,
        outcome: "rejected",
        item_id: None,
        reason: Some(rejection.reason.to_string()),
        notes: Vec::new(),
    });
}

pub(crate) fn progress_bar(global: &GlobalArgs, len: u64) -> ProgressBar {
    // indicatif hides itself when stderr is not a terminal; --quiet hides it everywhere.
    if global.quiet || len < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:30} {pos}/{len} files ({per_sec}, eta {eta}) {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}

fn print_summary(report: &IngestReport) -> anyhow::Result<()> {
    let t = &report.totals;
    crate::outln!(
        "Ingested {} input{} into source {:?}: {} new, {} updated, {} unchanged, {} duplicate{}, {} rejected; \
         {} findings extracted, {} of them entity mentions ({:.2} s)",
        t.inputs,
        if t.inputs == 1 { "" } else { "s" },
        report.source,
        t.inserted,
        t.updated,
        t.unchanged,
        t.duplicates,
        if t.duplicates == 1 { "" } else { "s" },
        t.rejected,
        t.findings,
        t.entity_mentions,
        report.elapsed_ms as f64 / 1000.0,
    );
    if report.stories.clustered > 0 {
        crate::outln!(
            "Placed {} item(s) in stories: {} new stor{}, {} near-duplicate(s).",
            report.stories.clustered,
            report.stories.new_stories,
            if report.stories.new_stories == 1 {
                "y"
            } else {
                "ies"
            },
            report.stories.near_duplicates
        );
    }
    if t.skipped_hidden > 0 {
        crate::outln!(
            "Skipped {} hidden file(s) or folder(s); use --include-hidden to read them.",
            t.skipped_hidden
        );
    }
    Ok(())
}
