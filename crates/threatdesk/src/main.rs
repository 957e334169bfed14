//! `threatdesk`: a cyber threat intelligence newsroom in one binary.
//!
//! This crate is the thin command-line layer: it parses arguments, loads configuration,
//! sets up logging, and calls into the library crates. Exit codes are decided in one
//! place, [`main`]: 0 success, 1 finished but some inputs were rejected, 2 error.

mod cli;
mod commands;
mod config;
mod output;

use std::process::ExitCode;

use clap::Parser;

/// Everything went as asked.
pub const EXIT_OK: u8 = 0;
/// The command finished, but some inputs were rejected (each one was reported).
pub const EXIT_PARTIAL: u8 = 1;
/// The command failed: bad usage, configuration, or an I/O or database error.
pub const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    output::init_logging(&args.global);
    let sql_profile = args.global.sql_profile.clone();
    if sql_profile.is_some() {
        threatdesk_store::profile::enable();
    }
    let outcome = commands::run(args);
    if let Some(path) = sql_profile
        && let Err(error) = write_sql_profile(&path)
    {
        tracing::warn!("could not write the SQL profile to {}: {error}", path.display());
    }
    match outcome {
        Ok(code) => code,
        Err(error) if output::is_broken_pipe(&error) => ExitCode::from(EXIT_OK),
        Err(error) => {
            output::print_error(&error);
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn write_sql_profile(path: &std::path::Path) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(&threatdesk_store::profile::snapshot())?;
    std::fs::write(path, json)
}
