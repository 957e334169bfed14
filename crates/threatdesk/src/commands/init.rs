//! `threatdesk init`.

use std::process::ExitCode;

use serde::Serialize;
use threatdesk_store::{SCHEMA_VERSION, Store};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs, InitArgs};
use crate::config::DataDir;

#[derive(Serialize)]
struct InitReport {
    data_dir: String,
    config_file: String,
    config_created: bool,
    database: String,
    schema_version: u32,
    /// Default sources added by this run (none when the folder had sources already).
    default_sources_added: usize,
}

/// Creates the data folder, its configuration file and its database; safe to repeat.
pub fn run(data: &DataDir, global: &GlobalArgs, args: &InitArgs) -> anyhow::Result<ExitCode> {
    let config_created = data.create()?;
    // Validate the configuration now, so a broken file is reported at init, not later.
    let config = data.load_config()?;
    let store = super::open_store(data)?;
    // Only a folder without sources gets the defaults, so a repeated init never brings
    // back sources an analyst removed.
    let default_sources_added = if args.no_default_sources || store.stats()?.sources > 0 {
        0
    } else {
        super::sources::import_opml(
            &store,
            super::sources::DEFAULT_SOURCES.as_bytes(),
            config.collect.default_interval_secs,
        )?
        .added
        .len()
    };
    let report = InitReport {
        data_dir: data.root().display().to_string(),
        config_file: data.config_file().display().to_string(),
        config_created,
        database: data.database().display().to_string(),
        schema_version: store.stats()?.schema_version,
        default_sources_added,
    };
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv | Format::Stix | Format::Misp => {
            crate::output::print_json(&report)?
        }
        Format::Text => {
            crate::outln!("Data folder: {}", report.data_dir);
            let state = if config_created {
                "created"
            } else {
                "kept as it was"
            };
            crate::outln!("Configuration: {} ({state})", report.config_file);
            crate::outln!("Database: {} (schema version {SCHEMA_VERSION})", report.database);
            if default_sources_added > 0 {
                crate::outln!(
                    "Sources: {default_sources_added} public security feeds added (`threatdesk sources list`; \
                     `threatdesk collect` starts collecting)"
                );
            }
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
