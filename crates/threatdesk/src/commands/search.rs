//! `threatdesk search`.

use std::collections::HashMap;
use std::process::ExitCode;

use threatdesk_store::{HitKind, SearchQuery, SearchScope, Store};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs, Scope, SearchArgs};
use crate::config::DataDir;
use crate::output::{print_json, short_time, stdout_is_terminal, truncate};

/// Runs a ranked full-text search and prints hits with snippets.
pub fn run(data: &DataDir, global: &GlobalArgs, args: SearchArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let query = SearchQuery {
        text: args.query.join(" "),
        scope: match args.scope {
            Scope::All => SearchScope::All,
            Scope::Items => SearchScope::Items,
            Scope::Bulletins => SearchScope::Bulletins,
        },
        bulletin_kind: args.bulletin_kind,
        documents: super::document_filter(&store, &args.filter)?,
        limit: Some(args.limit),
        offset: args.offset,
    };
    let results = store.search(&query)?;
    if global.format != Format::Text {
        print_json(&results)?;
        return Ok(ExitCode::from(EXIT_OK));
    }

    let source_names: HashMap<_, _> = store
        .list_sources()?
        .into_iter()
        .map(|s| (s.id, s.spec.name))
        .collect();
    let (open, close) = if stdout_is_terminal() {
        ("\x1b[1;33m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let shown = results.hits.len() as u64;
    if shown == 0 {
        crate::outln!("No matches for {:?} ({} in all).", query.text, results.total);
    } else {
        crate::outln!(
            "{} match{} for {:?}; showing {}-{}:",
            results.total,
            if results.total == 1 { "" } else { "es" },
            query.text,
            u64::from(query.offset) + 1,
            u64::from(query.offset) + shown
        );
    }
    for hit in &results.hits {
        let (kind, origin) = match hit.kind {
            HitKind::Item => (
                "item",
                hit.source_id
                    .and_then(|id| source_names.get(&id))
                    .cloned()
                    .unwrap_or_default(),
            ),
            HitKind::Bulletin => ("bulletin", String::from("bulletin")),
        };
        crate::outln!();
        crate::outln!(
            "{kind} {}  {}  {}  {}  (score {:.2})",
            hit.id,
            short_time(hit.date),
            truncate(&origin, 20),
            hit.tlp,
            hit.score
        );
        crate::outln!("  {}", truncate(&hit.title, 100));
        let snippet = hit
            .snippet
            .render(open, close)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        crate::outln!("  {snippet}");
    }
    Ok(ExitCode::from(EXIT_OK))
}
