//! `threatdesk init`.

use std::process::ExitCode;

use serde::Serialize;
use threatdesk_store::{SCHEMA_VERSION, Store};

use crate::EXIT_OK;
use crate::cli::{Format, GlobalArgs};
use crate::config::DataDir;

#[derive(Serialize)]
struct InitReport {
    data_dir: String,
    config_file: String,
    config_created: bool,
    database: String,
    schema_version: u32,
}

/// Creates the data folder, its configuration file and its database; safe to repeat.
pub fn run(data: &DataDir, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let config_created = data.create()?;
    // Validate the configuration now, so a broken file is reported at init, not later.
    data.load_config()?;
    let store = super::open_store(data)?;
    let report = InitReport {
        data_dir: data.root().display().to_string(),
        config_file: data.config_file().display().to_string(),
        config_created,
        database: data.database().display().to_string(),
        schema_version: store.stats()?.schema_version,
    };
    match global.format {
        Format::Json | Format::Jsonl | Format::Csv => crate::output::print_json(&report)?,
        Format::Text => {
            crate::outln!("Data folder: {}", report.data_dir);
            let state = if config_created {
                "created"
            } else {
                "kept as it was"
            };
            crate::outln!("Configuration: {} ({state})", report.config_file);
            crate::outln!("Database: {} (schema version {SCHEMA_VERSION})", report.database);
        }
    }
    Ok(ExitCode::from(EXIT_OK))
}
