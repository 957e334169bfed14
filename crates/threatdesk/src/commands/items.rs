//! `threatdesk items list|show`.

use std::process::ExitCode;

use anyhow::bail;
use threatdesk_model::ItemId;
use threatdesk_store::{ItemFilter, Store};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs, ItemsListArgs};
use crate::config::DataDir;
use crate::output::{print_json, short_time, truncate};

/// An item and what was extracted from it, as `items show --format json` prints it.
#[derive(serde::Serialize)]
struct ItemWithFindings<'a> {
    #[serde(flatten)]
    item: &'a threatdesk_model::Item,
    findings: &'a [threatdesk_model::Finding],
}

/// Lists items newest first.
pub fn list(data: &DataDir, global: &GlobalArgs, args: ItemsListArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let filter = ItemFilter {
        documents: super::document_filter(&store, &args.filter)?,
        limit: Some(args.limit),
        offset: args.offset,
    };
    let items = store.list_items(&filter)?;
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv | Format::Stix | Format::Misp => print_json(&items)?,
        Format::Text => {
            if items.is_empty() {
                crate::outln!("No items.");
            }
            for item in &items {
                let date = item.published_at.unwrap_or(item.fetched_at);
                crate::outln!(
                    "{:>6}  {}  {:<16}  {:<12}  {}",
                    item.id,
                    short_time(date),
                    truncate(&item.source_name, 16),
                    item.tlp.to_string(),
                    truncate(&item.title, 90)
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}

/// Shows one item: metadata, then its text (or sanitised HTML).
pub fn show(data: &DataDir, global: &GlobalArgs, id: ItemId, html: bool) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let Some(item) = store.item(id)? else {
        bail!("item {id} does not exist (see `threatdesk items list`)");
    };
    let source_name = store
        .source(item.content.source_id)?
        .map(|s| s.spec.name)
        .unwrap_or_default();
    let findings = store.item_findings(id)?;
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv | Format::Stix | Format::Misp => {
            print_json(&ItemWithFindings {
                item: &item,
                findings: &findings,
            })?
        }
        Format::Text => {
            let c = &item.content;
            crate::outln!("Item {}: {}", item.id, c.title);
            crate::outln!("Source:    {source_name}");
            crate::outln!("URL:       {}", c.canonical_url);
            if let Some(original) = c.original_url.as_deref().filter(|o| *o != c.canonical_url) {
                crate::outln!("Original:  {original}");
            }
            if let Some(author) = &c.author {
                crate::outln!("Author:    {author}");
            }
            if let Some(published) = c.published_at {
                crate::outln!("Published: {}", short_time(published));
            }
            crate::outln!("Fetched:   {}", short_time(c.fetched_at));
            crate::outln!(
                "Marking:   {}    Language: {}    Revision: {}",
                c.tlp,
                c.language.as_deref().unwrap_or("unknown"),
                item.revision
            );
            crate::outln!("Hash:      {}", c.content_hash);
            if !findings.is_empty() {
                crate::outln!("Findings:  {}", findings.len());
                for f in &findings {
                    let flags = if f.flags.is_empty() {
                        String::new()
                    } else {
                        format!("  [{}]", f.flags.join(", "))
                    };
                    crate::outln!(
                        "  {:>6}-{:<6} {:<17} {}{flags}",
                        f.span.start,
                        f.span.end,
                        f.kind.as_str(),
                        f.value
                    );
                }
            }
            crate::outln!();
            if html {
                crate::outln!(
                    "{}",
                    c.html.as_deref().unwrap_or("(no HTML: this item was plain text)")
                );
            } else {
                crate::outln!("{}", c.text);
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
