//! `threatdesk sources list`.

use std::process::ExitCode;

use threatdesk_store::Store;

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs};
use crate::config::DataDir;
use crate::output::{print_json, truncate};

/// Lists every source.
pub fn list(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = super::open_existing(data)?;
    let sources = store.list_sources()?;
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv => print_json(&sources)?,
        Format::Text => {
            if sources.is_empty() {
                crate::outln!("No sources.");
            }
            for source in &sources {
                let s = &source.spec;
                crate::outln!(
                    "{:>4}  {:<24}  {:<8}  {:<16}  reliability {}  {}  {}",
                    source.id,
                    truncate(&s.name, 24),
                    s.kind.as_str(),
                    s.default_tlp.to_string(),
                    s.reliability,
                    if s.enabled { "enabled " } else { "disabled" },
                    s.location
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
