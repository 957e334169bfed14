//! `threatdesk reextract`: extraction again over stored items, so that findings follow an
//! imported knowledge base or a better extractor. Each item's findings are replaced in one
//! transaction: never lost, never doubled.

use std::process::ExitCode;
use std::time::Instant;

use serde::Serialize;
use threatdesk_model::FindingKind;
use threatdesk_store::{ItemFilter, Store};

use super::ingest::{extract_findings, progress_bar};
use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs, ReextractArgs};
use crate::config::DataDir;
use crate::output::print_json;

/// Items read per page.
const PAGE: u32 = 200;

#[derive(Debug, Default, Serialize)]
struct Totals {
    items: u64,
    findings_before: u64,
    findings_after: u64,
    entity_mentions_after: u64,
    elapsed_ms: u128,
}

pub fn run(data: &DataDir, global: &GlobalArgs, args: ReextractArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let store = super::open_existing(data)?;
    let knowledge = super::kb::Knowledge::load(data)?;
    let recognizer = knowledge.recognizer();
    let documents = super::document_filter(&store, &args.filter)?;
    let total = store.stats()?.items;
    let progress = progress_bar(global, total);
    let mut totals = Totals::default();
    let mut offset = 0;
    loop {
        let filter = ItemFilter {
            documents: documents.clone(),
            limit: Some(PAGE),
            offset,
        };
        let page = store.list_items(&filter)?;
        if page.is_empty() {
            break;
        }
        offset += PAGE;
        for summary in &page {
            let Some(item) = store.item(summary.id)? else {
                continue;
            };
            totals.findings_before += store.item_findings(item.id)?.len() as u64;
            let findings = extract_findings(&item.content.text, &recognizer);
            totals.findings_after += findings.len() as u64;
            totals.entity_mentions_after += findings
                .iter()
                .filter(|f| f.kind == FindingKind::EntityMention)
                .count() as u64;
            store.replace_findings(item.id, &findings)?;
            totals.items += 1;
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    totals.elapsed_ms = started.elapsed().as_millis();
    if global.format == Format::Text {
        crate::outln!(
            "Re-extracted {} item{} with the {} knowledge base: {} findings before, {} now ({} entity mentions; {:.2} s)",
            totals.items,
            if totals.items == 1 { "" } else { "s" },
            knowledge.origin,
            totals.findings_before,
            totals.findings_after,
            totals.entity_mentions_after,
            totals.elapsed_ms as f64 / 1000.0
        );
    } else {
        print_json(&totals)?;
    }
    Ok(ExitCode::from(EXIT_OK))
}
